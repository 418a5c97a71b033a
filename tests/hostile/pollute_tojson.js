// Object.prototype.toJSON changes only this worker's own output.
// expect: ok "replaced"
export default () => {
  Object.prototype.toJSON = () => "replaced";
  return { secret: 1 };
};
