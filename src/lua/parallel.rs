//! `cloud.parallel`: one coroutine per item, all on the script's thread (the calls inside are
//! async), with a concurrency that adapts to a server that throttles: it halves when the
//! client's send rate is lowered for refusals (RESOURCE_EXHAUSTED) and climbs back by one per
//! round of calls that pass (additive increase, multiplicative decrease, as TCP does), never
//! above what was asked. The throttle (client/throttle.rs) decides what a new congestion is:
//! refusals of calls paced by an older rate do not count again.

use std::rc::Rc;

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use mlua::thread::ThreadStatus;
use mlua::{Function, Lua, Table, Thread, Value as Lv};

use super::cloud::Cloud;
use super::spec::Native;

pub const PARALLEL: Native = Native {
    name: "parallel",
    area: None,
    params: &[
        "list any[]",
        "fn fun(item:any, index:integer):any",
        "opts {concurrency:integer}?",
    ],
    returns: &[
        "any[] results",
        "{index:integer, item:any, error:any}[] errors",
    ],
    defaults: &[("opts.concurrency", "16")],
    doc: "Runs fn(item, i) for every item concurrently (at most `concurrency` at once, fewer while the server throttles).",
};

/// How many items run at once.
struct Concurrency {
    max: usize,
    limit: f64,
    /// Bumped at each decrease: a task started before it saw the same congestion, which
    /// already counted.
    generation: u64,
}

impl Concurrency {
    fn new(max: usize) -> Self {
        Self {
            max,
            limit: max as f64,
            generation: 0,
        }
    }

    fn current(&self) -> usize {
        (self.limit as usize).clamp(1, self.max)
    }

    /// A task started in `generation` finished; `throttled` says whether the client's send
    /// rate was lowered for refusals while it ran.
    fn finished(&mut self, generation: u64, throttled: bool) {
        if throttled {
            if generation == self.generation {
                self.limit = (self.limit / 2.0).max(1.0);
                self.generation += 1;
                tracing::debug!(
                    concurrency = self.current(),
                    "cloud.parallel: throttled; fewer at once"
                );
            }
        } else {
            self.limit = (self.limit + 1.0 / self.limit).min(self.max as f64);
        }
    }
}

/// Times the client's send rate was lowered for refusals so far (0 without a fleet).
fn decreases(lua: &Lua) -> u64 {
    lua.app_data_ref::<Rc<Cloud>>()
        .map_or(0, |c| c.client.throttle().decreases())
}

/// `cloud.parallel(list, fn, {concurrency=16})` -> `results, errors`: `results[i]` is fn's
/// first return for item i; `errors` is an array of `{index=, item=, error=}` (empty when all
/// succeeded), so no failure is lost.
pub fn function(lua: &Lua) -> mlua::Result<Function> {
    // pcall inside the coroutine keeps a raised error value intact (a CallError stays a userdata).
    let wrap: Function = lua
        .load("local f = ... return function(item, i) return pcall(f, item, i) end")
        .set_name("=cloud.parallel")
        .into_function()?;
    lua.create_async_function(
        move |lua, (list, f, opts): (Table, Function, Option<Table>)| {
            let wrap = wrap.clone();
            async move {
                let conc = opts
                    .map(|o| o.get::<Option<i64>>("concurrency"))
                    .transpose()?
                    .flatten()
                    .unwrap_or(16);
                if conc < 1 {
                    return Err(mlua::Error::runtime(
                        "cloud.parallel: concurrency must be at least 1",
                    ));
                }
                let body: Function = wrap.call(f)?;
                // A reply's lazy list (lazy.rs) is raw-empty until forced.
                super::lazy::force(&list)?;
                let items = list
                    .sequence_values::<Lv>()
                    .collect::<mlua::Result<Vec<_>>>()?;
                let bar = super::hooks::get(&lua).progress(Some(items.len() as u64), "parallel");
                let results = lua.create_table_with_capacity(items.len(), 0)?;
                // (index, error value) of the items that failed, put in item order at the end.
                let mut failed: Vec<(usize, Lv)> = Vec::new();
                // Coroutines whose item is done, reused for the next items: a new coroutine
                // per item (its stack, call frames and their collection) cost ~8,000 of the
                // client's ~97,000 instructions per call at 64 in flight.
                let mut idle: Vec<Thread> = Vec::new();
                let mut ctl = Concurrency::new(usize::try_from(conc).unwrap_or(usize::MAX));
                let mut running = FuturesUnordered::new();
                let mut next = 0;
                loop {
                    while running.len() < ctl.current() && next < items.len() {
                        let (i, item) = (next, items[next].clone());
                        next += 1;
                        let thread = match idle.pop() {
                            Some(t) => t.reset(body.clone()).map(|()| t),
                            None => lua.create_thread(body.clone()),
                        };
                        let (generation, seen) = (ctl.generation, decreases(&lua));
                        running.push(async move {
                            let (r, thread) = match thread {
                                Ok(t) => match t.clone().into_async::<(bool, Lv)>((item, i + 1)) {
                                    Ok(fut) => (fut.await, Some(t)),
                                    Err(e) => (Err(e), None),
                                },
                                Err(e) => (Err(e), None),
                            };
                            (i, generation, seen, r, thread)
                        });
                    }
                    let Some(done) = running.next().await else {
                        break;
                    };
                    let (i, generation, seen, r, thread) = done;
                    ctl.finished(generation, decreases(&lua) > seen);
                    match r {
                        Ok((true, value)) => results.raw_set(i + 1, value)?,
                        Ok((false, e)) => failed.push((i, e)),
                        Err(e) => failed.push((i, Lv::String(lua.create_string(e.to_string())?))),
                    }
                    // Only a coroutine that ran to its end can start again.
                    if let Some(t) = thread.filter(|t| t.status() == ThreadStatus::Finished) {
                        idle.push(t);
                    }
                    if let Some(b) = &bar {
                        b.inc(1);
                    }
                }
                if let Some(b) = bar {
                    b.finish_and_clear();
                }
                failed.sort_unstable_by_key(|(i, _)| *i);
                let errors = lua.create_table_with_capacity(failed.len(), 0)?;
                for (i, value) in failed {
                    let e = lua.create_table()?;
                    e.set("index", i + 1)?;
                    e.set("item", items[i].clone())?;
                    e.set("error", value)?;
                    errors.raw_push(e)?;
                }
                Ok((results, errors))
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrency_halves_once_per_congestion_and_climbs_back() {
        let mut c = Concurrency::new(64);
        assert_eq!(c.current(), 64);
        let g = c.generation;
        c.finished(g, true);
        assert_eq!(c.current(), 32);
        // The other tasks of the same generation saw the same refusals.
        for _ in 0..63 {
            c.finished(g, true);
        }
        assert_eq!(c.current(), 32);
        c.finished(c.generation, true);
        assert_eq!(c.current(), 16);
        // A round of passing calls (a little more than 16, as the limit grows) adds one.
        for _ in 0..17 {
            c.finished(c.generation, false);
        }
        assert_eq!(c.current(), 17);
        for _ in 0..10_000 {
            c.finished(c.generation, false);
        }
        assert_eq!(c.current(), 64, "never above what was asked");
        for _ in 0..20 {
            c.finished(c.generation, true);
        }
        assert_eq!(c.current(), 1, "never below one");
    }
}
