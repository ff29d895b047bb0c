// Imported once to learn whether a TypeScript loader such as tsx is registered in this process (see
// import.ts). The build copies this file as it is, so under the binary, which registers none,
// importing it fails. Node's own type stripping (on by default from 22.18) must not count: it takes
// no enum, parameter property or `.js` name for a `.ts` file, which job files may use, and it
// refuses files under node_modules. Hence `.tsx`, an extension Node refuses at once, before it
// loads its WebAssembly stripper (about 25 MB that would stay in every worker); and the enum, in
// case a later Node strips .tsx too.
enum Loader {
  Full = 1,
}
export const typescript: boolean = Loader.Full === 1;
