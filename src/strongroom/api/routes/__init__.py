"""HTTP routers, one module per area (sys, auth, kv)."""
