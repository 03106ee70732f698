-- wrk script: GET /big with Accept-Encoding: gzip.
wrk.headers["Accept-Encoding"] = "gzip"
wrk.path = "/big"
