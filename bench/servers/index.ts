import { BenchConfigError } from '../config';
import { apache } from './apache';
import { bareNode } from './bare-node';
import { gunicornGthread, gunicornSync } from './gunicorn';
import { hopFloor } from './hop-floor';
import type { ServerRecipe } from './recipe';
import { uwsgiHttp11Socket, uwsgiHttpSocket } from './uwsgi';
import { WSGI_HOST_RECIPES } from './wsgi-host';

/** Every peer, in table order. */
export const RECIPES: ServerRecipe[] = [...WSGI_HOST_RECIPES, apache, gunicornSync, gunicornGthread, uwsgiHttpSocket, uwsgiHttp11Socket, hopFloor, bareNode];

/**
 * The recipes BENCH_SERVERS asks for: exact names, or a prefix (`gunicorn` means both gunicorn
 * workers). Without BENCH_SERVERS, the default set.
 */
export function selectRecipes(names: string[] | null): ServerRecipe[] {
  if (names === null) return RECIPES.filter((r) => r.byDefault);
  const chosen = new Set<ServerRecipe>();
  for (const name of names) {
    const exact = RECIPES.filter((r) => r.name === name);
    const matches = exact.length > 0 ? exact : RECIPES.filter((r) => r.name.startsWith(`${name}-`));
    if (matches.length === 0) throw new BenchConfigError(`BENCH_SERVERS: unknown server '${name}' (known: ${RECIPES.map((r) => r.name).join(', ')})`);
    for (const m of matches) chosen.add(m);
  }
  return RECIPES.filter((r) => chosen.has(r));
}
