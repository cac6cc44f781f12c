// OpenAPI 3.1 at /openapi.json and Swagger UI at /docs, generated from the route schemas. The
// /admin routes are split off into their own document (app.adminOpenapi(), served by the admin API
// behind its token): the public document must not map the operator API.
// Route schemas are documentation only (marked with docsOnly): such routes get pass-through
// validator/serializer compilers, so zod in the handler keeps the 400/422 split and responses are
// never reshaped by fast-json-stringify.
import fp from 'fastify-plugin';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance, RouteOptions } from 'fastify';
import { apiV2Doc } from './api-v2.js';
import { answerExamples } from './examples.js';
import { components, docsOnly, isDocsOnly } from './schemas.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The OpenAPI document of the /admin routes (left out of /openapi.json and /docs). */
    adminOpenapi(): Record<string, unknown>;
  }
}

const acceptAll = () => () => true;
const isAdminPath = (path: string) => path === '/admin' || path.startsWith('/admin/');
const plainJson = () => (data: unknown) => JSON.stringify(data);

/** Puts the answer examples of examples.ts on the first media type of each documented status. */
function withAnswerExamples<T extends { response?: unknown }>(schema: T, method: RouteOptions['method'], url: string): T {
  const examples = answerExamples[`${Array.isArray(method) ? method[0] : method} ${url}`] ?? {};
  const responses = (schema.response ?? {}) as Record<string, { content?: Record<string, Record<string, unknown>> }>;
  for (const [status, example] of Object.entries(examples)) {
    const media = Object.values(responses[status]?.content ?? {})[0];
    if (media) media.example = example;
  }
  return schema;
}

export const docsPlugin = fp(
  async (app: FastifyInstance) => {
    // Runs before @fastify/swagger's own onRoute hook (registered below), so swagger sees the schema.
    app.addHook('onRoute', (route: RouteOptions) => {
      route.schema ??= apiV2Doc(route.method, route.url);
      if (isDocsOnly(route.schema)) {
        // A copy per app: @fastify/swagger moves `examples` out of the schema objects it is given,
        // and module-level docs are shared by every app a process starts (tests start many).
        route.schema = withAnswerExamples(docsOnly(structuredClone(route.schema as object)), route.method, route.url);
        route.validatorCompiler = acceptAll;
        route.serializerCompiler = plainJson;
      }
    });

    // @fastify/swagger builds (and caches) one document of every route; it is split here, once.
    let adminDoc: Record<string, unknown> = {};
    const split = ({ openapiObject: doc }: { openapiObject: Record<string, unknown> }) => {
      const entries = Object.entries((doc.paths ?? {}) as Record<string, unknown>);
      adminDoc = { ...doc, paths: Object.fromEntries(entries.filter(([path]) => isAdminPath(path))) };
      return { ...doc, paths: Object.fromEntries(entries.filter(([path]) => !isAdminPath(path))) };
    };
    app.decorate('adminOpenapi', () => {
      app.swagger();
      return adminDoc;
    });

    await app.register(swagger, {
      transformObject: split as never,
      openapi: {
        openapi: '3.1.0',
        info: { title: 'lumengate', version: '0.1.0', description: 'Elumenta v2 API (/api/v2) and an OpenAI-compatible API (/v1). Authenticate with `Authorization: Bearer nb_…`.' },
        components: {
          securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', description: 'an nb_ API key' } },
          schemas: components,
        },
      },
    });
    await app.register(swaggerUi, { routePrefix: '/docs' });
    app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  },
  { name: 'lumengate-docs' },
);
