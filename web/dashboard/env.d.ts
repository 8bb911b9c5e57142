// esbuild bundles imported stylesheets into the page's own .css asset.
declare module '*.css';
