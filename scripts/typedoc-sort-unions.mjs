// A TypeDoc plugin (typedoc.json): sorts the members of every union type by
// their text. TypeScript lists a union's members in the order it first met
// them, which moves with unrelated changes; sorted, `npm run docs` writes the
// same docs/api/ for the same declarations.
import { Converter, makeRecursiveVisitor } from 'typedoc';

const byText = (a, b) => {
  const x = a.toString();
  const y = b.toString();
  return x < y ? -1 : x > y ? 1 : 0;
};

const sortUnions = makeRecursiveVisitor({
  union(type) {
    type.types.sort(byText);
  },
});

/** @param {import('typedoc').Application} app */
export function load(app) {
  app.converter.on(Converter.EVENT_RESOLVE_END, (context) => {
    for (const reflection of Object.values(context.project.reflections)) {
      for (const type of [
        reflection.type,
        reflection.default,
        ...(reflection.extendedTypes ?? []),
        ...(reflection.implementedTypes ?? []),
      ]) {
        if (type !== undefined && typeof type === 'object' && 'visit' in type) type.visit(sortUnions);
      }
    }
  });
}
