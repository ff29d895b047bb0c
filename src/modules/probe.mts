// Imported once to learn whether this process can import TypeScript itself (see import.ts). The
// build copies this file as it is, so under the binary, which registers no TypeScript loader,
// importing it fails.
export const typescript: boolean = true;
