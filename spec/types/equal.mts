/**
 * Exact type equality: true only when A and B are the same type (`any`,
 * `unknown` and `never` are told apart from everything else).
 */
export type Equal<A, B> = (<G>() => G extends A ? 1 : 2) extends <G>() => G extends B ? 1 : 2 ? true : false;

/** Fails to compile unless its argument is `true`: `type _ = Expect<Equal<typeof x, Buffer>>`. */
export type Expect<T extends true> = T;
