//! rasgi-h1 against httparse, in one run, on the request kinds a server sees: a small request,
//! a browser-like request with a long cookie, a chunked POST, and 16 pipelined requests.
//! Throughput is reported in bytes/s; docs/benchmarks.md has the ratios.
//!
//! Run: `cargo bench -p rasgi-h1 --bench parse`

#[path = "inputs.rs"]
mod inputs;

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use inputs::{httparse_chunked, httparse_heads, rasgi_chunked, rasgi_heads, CHUNKED};

fn heads(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse");
    for (name, input) in inputs::head_kinds() {
        group.throughput(Throughput::Bytes(input.len() as u64));
        let mut buf = input.clone();
        group.bench_with_input(BenchmarkId::new("rasgi", name), &input, |b, _| {
            b.iter(|| rasgi_heads(black_box(&mut buf)))
        });
        group.bench_with_input(BenchmarkId::new("httparse", name), &input, |b, input| {
            b.iter(|| httparse_heads(black_box(input)))
        });
    }
    group.throughput(Throughput::Bytes(CHUNKED.len() as u64));
    let mut buf = CHUNKED.to_vec();
    group.bench_function(BenchmarkId::new("rasgi", "chunked"), |b| {
        b.iter(|| rasgi_chunked(black_box(&mut buf)))
    });
    group.bench_function(BenchmarkId::new("httparse", "chunked"), |b| {
        b.iter(|| httparse_chunked(black_box(CHUNKED)))
    });
    group.finish();
}

criterion_group!(benches, heads);
criterion_main!(benches);
