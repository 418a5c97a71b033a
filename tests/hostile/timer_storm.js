// A timer storm: the pending-timers limit (1000 by default) ends it, and
// catching the error does not help.
// expect: timer_limit_exceeded
// message: more than 1000 timers pending
export default () => {
  for (;;) {
    try { setTimeout(() => {}, 1e6); } catch (e) {}
  }
};
