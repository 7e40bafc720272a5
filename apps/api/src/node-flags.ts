/**
 * The flags node runs the API with, wherever it is started (Dockerfile, compose, k8s, `npm run
 * start:api`, the bench; test/unit/deploy.test.ts holds them to this list).
 *
 * A young generation of 4 MiB semi-spaces instead of V8's 16: the API streams uploads through in 64 KiB
 * chunks the HTTP parser allocates one by one, and the dead ones pile up between scavenges; with the
 * smaller young generation the API's peak RSS on a 1 GiB upload went from ~207 to ~189 MB for the same
 * CPU (paired uploads, docs/performance.md), where 2 MiB cost ~8% more CPU.
 */
export const API_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=4'];
