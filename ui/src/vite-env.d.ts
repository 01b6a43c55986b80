/// <reference types="svelte" />
/// <reference types="vite/client" />

/** The UI's version from package.json, set at build time. */
declare const __UI_VERSION__: string;
