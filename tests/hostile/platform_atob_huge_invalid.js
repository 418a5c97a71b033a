// atob of 8 MiB that is not base64 fails with the standard's error, quickly.
// expect: exception
// message: InvalidCharacterError
export default () => atob("*".repeat(8 << 20)).length;
