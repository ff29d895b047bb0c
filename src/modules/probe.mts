// Imported once to learn whether a TypeScript loader such as tsx is registered in this process (see
// import.ts). The build copies this file as it is, so under the binary, which registers none,
// importing it fails. Node's own type stripping (on by default from 22.18) does not count, and the
// enum is what tells it apart: it takes no enum, parameter property or `.js` name for a `.ts` file,
// which job files may use, and it refuses files under node_modules, where this one is installed.
enum Loader {
  Full = 1,
}
export const typescript: boolean = Loader.Full === 1;
