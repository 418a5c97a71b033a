// structuredClone of a ring of objects that all point back at the first:
// every cycle is kept, nothing is cloned twice.
// expect: ok [true,true,500]
export default () => {
  const head = { n: 0 };
  let node = head;
  for (let i = 1; i < 500; i++) {
    node.next = { n: i, head };
    node = node.next;
  }
  node.next = head;
  const copy = structuredClone(head);
  let count = 0;
  let seen = copy;
  do { count++; seen = seen.next; } while (seen !== copy && count < 1000);
  return [copy !== head, copy.next.head === copy, count];
};
