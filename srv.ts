try { const s = Bun.serve({ hostname: "127.0.0.1", port: 19999, fetch: () => new Response("x") }); console.log("served", s.port); s.stop(true); } catch (e) { console.log("threw", (e as any).code, (e as Error).message); }
const a = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("a") });
try { const b = Bun.serve({ hostname: "127.0.0.1", port: a.port, fetch: () => new Response("b") }); console.log("second served", b.port); b.stop(true);} catch (e) { console.log("second threw", (e as any).code); }
try { const b = Bun.serve({ hostname: "127.0.0.1", port: a.port, reusePort: false, fetch: () => new Response("b") }); console.log("third served", b.port); b.stop(true);} catch (e) { console.log("third threw", (e as any).code); }
a.stop(true);
