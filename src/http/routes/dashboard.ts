// The web dashboard at /dashboard: static ES modules from web/dashboard (no build step) plus the
// browser builds of preact, htm, uPlot and eventsource-parser straight from node_modules.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import fastifyStatic from '@fastify/static';
import { packageRoot } from '../../config/env.js';

const require = createRequire(import.meta.url);

/** Served name -> package file. */
const VENDOR_FILES: Record<string, string> = {
  'preact.mjs': 'preact/dist/preact.mjs',
  'hooks.mjs': 'preact/hooks/dist/hooks.mjs',
  'htm.mjs': 'htm/dist/htm.mjs',
  'uplot.mjs': 'uplot/dist/uPlot.esm.js',
  'uplot.css': 'uplot/dist/uPlot.min.css',
  'eventsource-parser.mjs': 'eventsource-parser/dist/index.js',
};

/** Finds a file inside an installed package the way Node looks up node_modules, ignoring "exports" (which hide these files). */
function packageFile(spec: string): string {
  const [name, ...rest] = spec.split('/');
  const dir = (require.resolve.paths(name!) ?? []).map((d) => join(d, name!)).find((d) => existsSync(join(d, 'package.json')));
  if (!dir) throw new Error(`dashboard: package ${name} is not installed`);
  return join(dir, ...rest);
}

/**
 * The vendor files, each read on its first request and kept as bytes (outside V8's heap; uPlot
 * alone would be ~290 KB of it as a string, held by every server whether or not anyone opens the
 * dashboard). Their paths are resolved here, at start-up, so a missing package still fails the
 * start. preact/hooks imports the bare specifier "preact", which a browser can only resolve
 * through an import map (an inline script the CSP forbids), so it is pointed at the served file
 * instead; nothing else is changed. Source-map comments are dropped (maps are not served).
 */
export function vendorFiles(): (name: string) => { body: Buffer; type: string } | undefined {
  const paths = new Map(Object.entries(VENDOR_FILES).map(([name, spec]) => [name, packageFile(spec)]));
  const loaded = new Map<string, { body: Buffer; type: string }>();
  return (name) => {
    const path = paths.get(name);
    if (path === undefined) return undefined;
    let file = loaded.get(name);
    if (!file) {
      let body = readFileSync(path, 'utf8').replace(/\n?\/\/# sourceMappingURL=\S+\s*$/, '\n');
      if (name.endsWith('.mjs')) body = body.replace(/from\s*"preact"/g, 'from"./preact.mjs"');
      file = { body: Buffer.from(body), type: name.endsWith('.css') ? 'text/css; charset=utf-8' : 'text/javascript; charset=utf-8' };
      loaded.set(name, file);
    }
    return file;
  };
}

export async function dashboardRoutes(app: FastifyInstance): Promise<void> {
  const vendor = vendorFiles();

  await app.register(fastifyStatic, {
    root: join(packageRoot(), 'web', 'dashboard'),
    prefix: '/dashboard/',
    index: false,
    // Small files that change with every release: revalidate instead of caching blindly.
    cacheControl: false,
    setHeaders: (res) => void res.setHeader('cache-control', 'no-cache'),
  });

  // Pages, not API: kept out of /openapi.json.
  const page = { schema: { hide: true } };
  app.get('/', page, (_req, reply) => reply.redirect('/dashboard', 302));
  app.get('/dashboard', page, (_req, reply) => reply.header('cache-control', 'no-cache').sendFile('index.html'));

  app.get<{ Params: { file: string } }>('/dashboard/vendor/:file', page, async (req, reply) => {
    const f = vendor(req.params.file);
    if (!f) return reply.callNotFound();
    return reply.type(f.type).header('cache-control', 'public, max-age=3600').send(f.body);
  });
}
