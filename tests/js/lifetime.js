// Stub lifetime: dispose releases at once; everything else at the end.
export default {
  async run(input, env) {
    const disposed = env.factory.make({ label: "disposed" }).thing;
    await disposed.touch();
    disposed[Symbol.dispose]();
    let afterDispose = null;
    try {
      await disposed.touch();
    } catch (e) {
      afterDispose = `${e.name}: ${e.message}`;
    }
    const kept = env.factory.make({ label: "kept" }).thing;
    const touched = (await kept.touch()).count;
    const name = (await kept.name()).name;
    const forgedStub = Object.create(Object.getPrototypeOf(kept));
    let forged = null;
    try {
      await forgedStub.touch();
    } catch (e) {
      forged = `${e.name}: ${e.message}`;
    }
    const droppedBeforeEnd = (await env.factory.dropped()).labels;
    return { touched, name, afterDispose, forged, droppedBeforeEnd };
  },
};
