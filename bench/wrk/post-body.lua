-- The upload workload: every request POSTs the same 1 MiB body. wrk builds the request once per
-- thread and adds Content-Length itself. upload_chunk and upload_repeats come from the prelude
-- that bench/load/wrk.ts writes, so the body matches the one the TypeScript check hashes.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/octet-stream"
wrk.body = string.rep(upload_chunk, upload_repeats)
