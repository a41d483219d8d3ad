// Build-time helper (run by wasm/build_bundle.py under Node, not shipped): boots Pyodide from the
// bundle's own runtime files, puts our wheel on sys.path (zipimport), imports the DSP package and
// writes a memory snapshot of that interpreter. Restoring it (`_loadSnapshot`) skips Python's
// start-up and the package import: the SDK's runtime + package phases take a fraction of a second.
//   node wasm/js/make_snapshot.mjs <pyodide.mjs> <indexDir/> <lockfile> <stdlib.zip> <wheel> <wheelDir> <out.bin> <module>...
import { readFileSync, writeFileSync } from "node:fs";
import { basename } from "node:path";
import { pathToFileURL } from "node:url";

const [pyodideMjs, indexURL, lockFileURL, stdLibURL, wheel, wheelDir, out, ...modules] = process.argv.slice(2);
const { loadPyodide } = await import(pathToFileURL(pyodideMjs).href);
const quiet = () => {};
const py = await loadPyodide({ indexURL, lockFileURL, stdLibURL, _makeSnapshot: true, stdout: quiet, stderr: quiet });
const wheelPath = `${wheelDir}/${basename(wheel)}`;
py.FS.mkdirTree(wheelDir);
py.FS.writeFile(wheelPath, readFileSync(wheel));
const sys = py.pyimport("sys");
sys.path.insert(0, wheelPath);
sys.destroy();
for (const m of modules) py.pyimport(m).destroy();
writeFileSync(out, py.makeMemorySnapshot());
process.exit(0);
