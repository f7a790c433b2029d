//! Does this machine's memory go cold while a process sleeps? Walks a random chain through a
//! buffer after sleeps of growing length, with a loop that touches no memory as the control
//! (see the README, "Latest figures": why the bench alternates the order of a pair).
//!
//!     cargo run --release --example memwalk [MiB, a power of two, default 4]
//!
//! On Linux, `HUGE=1` asks for transparent huge pages on the buffer first (`madvise`), which
//! shows whether page walks are what the sleep made slow.

use std::hint::black_box;
use std::time::{Duration, Instant};

/// A transparent huge page on x86-64 and most of arm64.
const HUGE: usize = 2 << 20;

fn main() {
    let mib = match std::env::args().nth(1).map(|a| a.parse::<usize>()) {
        None => 4,
        Some(Ok(m)) if m.is_power_of_two() => m,
        Some(_) => {
            eprintln!("memwalk: give the buffer's size in MiB as a power of two (1, 2, 4, ...)");
            std::process::exit(2);
        }
    };
    let n = mib * 1024 * 1024 / 8;
    // Room to start the chain on a 2 MiB boundary, where a huge page can back it.
    let mut backing = vec![0u64; n + HUGE / 8];
    let skip = backing.as_ptr().align_offset(HUGE);
    let chain = &mut backing[skip..skip + n];
    if std::env::var_os("HUGE").is_some() {
        advise_huge(chain);
    }
    // A linear congruential step modulo n: with n a power of two, the multiplier 1 mod 4 and
    // the increment odd, it visits every slot once per cycle, each far from the last.
    for (i, next) in chain.iter_mut().enumerate() {
        *next = (i as u64).wrapping_mul(2_654_435_761).wrapping_add(12_345) % n as u64;
    }
    for sleep in [0.0, 0.0, 0.0, 0.3, 0.3, 1.0, 1.0, 2.0, 2.0, 0.0, 0.0] {
        std::thread::sleep(Duration::from_secs_f64(sleep));
        let t = Instant::now();
        let mut j = 0u64;
        for _ in 0..n / 4 {
            j = chain[j as usize];
        }
        black_box(j);
        let walk = t.elapsed();
        let t = Instant::now();
        let mut x = 1.0f64;
        for _ in 0..3_000_000 {
            x = black_box(x * 1.000_000_1 + 1e-9);
        }
        let compute = t.elapsed();
        println!(
            "after {sleep:.1} s asleep: walk {:.2} ms, compute {:.2} ms",
            walk.as_secs_f64() * 1e3,
            compute.as_secs_f64() * 1e3
        );
    }
}

#[cfg(target_os = "linux")]
fn advise_huge(buf: &mut [u64]) {
    // Whole huge pages only: `buf` starts on a boundary, its tail may be a part page.
    let len = std::mem::size_of_val(buf) / HUGE * HUGE;
    // SAFETY: the range lies inside `buf`, which this function borrows mutably; the advice
    // changes only how the kernel backs the pages, not their contents.
    let rc = unsafe { libc::madvise(buf.as_mut_ptr().cast(), len, libc::MADV_HUGEPAGE) };
    if rc != 0 {
        eprintln!("madvise: {}", std::io::Error::last_os_error());
    }
}

#[cfg(not(target_os = "linux"))]
fn advise_huge(_: &mut [u64]) {
    eprintln!("HUGE=1 is for Linux only; walking without it");
}
