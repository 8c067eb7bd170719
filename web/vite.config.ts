// `npm run build` writes dist/, which `ward server` serves at /. `npm run dev` serves the portal with
// hot reload and forwards API and sign-in calls to a running server (WARD_URL, default
// http://127.0.0.1:8443); loopback redirect URIs match whatever port the dev server has.
import { defineConfig } from "vite";

const target = process.env.WARD_URL ?? "http://127.0.0.1:8443";
const serverPaths = "^/(api|portal|siem|healthz|readyz|common|organizations|[0-9a-fA-F-]{36})(/|$)";

export default defineConfig({
  build: { outDir: "dist", emptyOutDir: true, chunkSizeWarningLimit: 2000, sourcemap: false },
  server: { proxy: { [serverPaths]: { target, changeOrigin: false } } },
});
