-- The "every connection served?" pass. wrk gives response() no connection identity, so the pass
-- runs with one connection per thread (wrk -t C -c C) and these per-thread globals are
-- per-connection counters (a reconnect after the server closes the connection stays in the same
-- thread, i.e. the same client slot). expected_body / expected_length come from the prelude.
-- Defining response() makes wrk buffer every body, which is why the measured rounds do not use it.
served = 0
non2xx = 0
wrong_body = 0

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
  elseif (expected_body ~= nil and body ~= expected_body) or #body ~= expected_length then
    wrong_body = wrong_body + 1
  else
    served = served + 1
  end
end
