-- wrk script: at the end, the bytes read and the seconds taken, for a throughput in MiB/s.
done = function(summary, latency, requests)
  io.write(string.format("bytes %d seconds %.3f requests %d\n",
    summary.bytes, summary.duration / 1e6, summary.requests))
end
