//! rasgi-h1 against httparse in alternating rounds: each round times a batch of one parser, then
//! the same batch of the other, and the ratio of the two is that round's figure. On a shared,
//! noisy machine the median of those ratios moves far less than two criterion medians taken
//! one after the other. `--count KIND PARSER N` instead runs one loop N times and nothing
//! else, for instruction counts under callgrind.
//!
//! Run: `cargo bench -p rasgi-h1 --bench paired [-- --rounds N]`

#[path = "inputs.rs"]
mod inputs;

use std::hint::black_box;
use std::time::Instant;

use inputs::{httparse_chunked, httparse_heads, rasgi_chunked, rasgi_heads, CHUNKED};

/// One parser's loop over one input kind.
struct Kind {
    name: &'static str,
    input: Vec<u8>,
    chunked: bool,
}

impl Kind {
    /// One pass of rasgi-h1 (`rasgi`) or httparse over the input; returns what it counted.
    fn run(&self, rasgi: bool, buf: &mut [u8]) -> usize {
        match (self.chunked, rasgi) {
            (false, true) => rasgi_heads(black_box(buf)),
            (false, false) => httparse_heads(black_box(&self.input)),
            (true, true) => rasgi_chunked(black_box(buf)),
            (true, false) => httparse_chunked(black_box(&self.input)),
        }
    }

    /// Seconds for `n` passes.
    fn time(&self, rasgi: bool, buf: &mut [u8], n: usize) -> f64 {
        let start = Instant::now();
        for _ in 0..n {
            black_box(self.run(rasgi, buf));
        }
        start.elapsed().as_secs_f64()
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut kinds: Vec<Kind> = inputs::head_kinds()
        .into_iter()
        .map(|(name, input)| Kind {
            name,
            input,
            chunked: false,
        })
        .collect();
    kinds.push(Kind {
        name: "chunked",
        input: CHUNKED.to_vec(),
        chunked: true,
    });
    if let Some(at) = args.iter().position(|a| a == "--count") {
        let (name, parser, n) = (&args[at + 1], &args[at + 2], &args[at + 3]);
        let kind = kinds.iter().find(|k| k.name == name).expect("a kind");
        let mut buf = kind.input.clone();
        let n: usize = n.parse().expect("a count");
        let total: usize = (0..n).map(|_| kind.run(parser == "rasgi", &mut buf)).sum();
        println!("{total}");
        return;
    }
    let rounds: usize = args
        .iter()
        .position(|a| a == "--rounds")
        .map_or(200, |at| args[at + 1].parse().expect("a number of rounds"));
    println!("rasgi-h1 / httparse speed, median of {rounds} alternating rounds (above 1: rasgi-h1 faster)");
    println!("| input | bytes | rasgi-h1 ns | httparse ns | ratio (median) | middle half of the rounds |");
    println!("| --- | ---: | ---: | ---: | ---: | --- |");
    for kind in &kinds {
        let mut buf = kind.input.clone();
        // About a millisecond per batch.
        let per = kind.time(true, &mut buf, 1000) / 1000.0;
        let n = ((1e-3 / per) as usize).max(10);
        let mut ratios = Vec::with_capacity(rounds);
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        for round in 0..rounds {
            // Alternate which goes first, so neither always gets the warmer cache.
            let (a, b) = if round % 2 == 0 {
                let a = kind.time(true, &mut buf, n);
                (a, kind.time(false, &mut buf, n))
            } else {
                let b = kind.time(false, &mut buf, n);
                (kind.time(true, &mut buf, n), b)
            };
            ratios.push(b / a);
            ours.push(a * 1e9 / n as f64);
            theirs.push(b * 1e9 / n as f64);
        }
        let median = |v: &mut Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        let ratio = median(&mut ratios);
        let (low, high) = (ratios[ratios.len() / 4], ratios[ratios.len() * 3 / 4]);
        println!(
            "| {} | {} | {:.0} | {:.0} | **{ratio:.2}×** | {low:.2}–{high:.2}× |",
            kind.name,
            kind.input.len(),
            median(&mut ours),
            median(&mut theirs),
        );
    }
}
