// The interfaces of performance and navigator (High Resolution Time, HTML),
// as globals WinterTC names: neither can be constructed; performance.now()
// is the frozen clock and toJSON() gives timeOrigin; neither is cloneable.
export default function run() {
  const refused = (C) => { try { new C(); return "constructed"; } catch (e) { return e.name; } };
  const cloned = (v) => { try { structuredClone(v); return "cloned"; } catch (e) { return e.name; } };
  return {
    instances: [performance instanceof Performance, navigator instanceof Navigator],
    tags: [Object.prototype.toString.call(performance), Object.prototype.toString.call(navigator)],
    construct: [refused(Performance), refused(Navigator)],
    now: [typeof performance.now(), performance.now() === Date.now(), performance.timeOrigin],
    json: [performance.toJSON(), JSON.stringify(performance)],
    methods: [typeof Performance.prototype.now, typeof Navigator.prototype, "userAgent" in Navigator.prototype],
    clone: [cloned(performance), cloned(navigator)],
  };
}
