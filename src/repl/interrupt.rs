//! Ctrl-C while a chunk runs: a SIGINT handler sets a flag; a Lua instruction hook turns it into
//! an "interrupted" error (pure Lua loops), and `guard` races awaited calls against it (RPCs).

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use mlua::{HookTriggers, Lua, VmState};

/// The message of an interrupted chunk.
pub const INTERRUPTED: &str = "interrupted";

/// How often (in VM instructions) the hook looks at the flag: cheap, and still instant for a user.
const HOOK_EVERY: u32 = 10_000;

/// How often an awaiting chunk looks at the flag.
const POLL: Duration = Duration::from_millis(25);

#[derive(Clone, Debug, Default)]
pub struct Interrupt {
    flag: Arc<AtomicBool>,
}

impl Interrupt {
    /// An interrupt that only `trigger` sets (tests, or a caller with its own signal source).
    pub fn new() -> Self {
        Self::default()
    }

    /// Also set by SIGINT. Terminal Ctrl-C reaches us as SIGINT only while a chunk runs:
    /// rustyline reads the key itself at the prompt.
    pub fn with_sigint() -> anyhow::Result<Self> {
        let me = Self::new();
        signal_hook::flag::register(signal_hook::consts::SIGINT, Arc::clone(&me.flag))?;
        Ok(me)
    }

    /// Makes running Lua code of `lua` (and of the threads mlua creates later, as `call_async`
    /// does) fail with "interrupted" once the flag is set. The flag stays set until `reset`, so
    /// a loop that catches one "interrupted" with `pcall` is stopped again at the next check.
    pub fn install(&self, lua: &Lua) -> mlua::Result<()> {
        let flag = Arc::clone(&self.flag);
        lua.set_global_hook(
            HookTriggers::new().every_nth_instruction(HOOK_EVERY),
            move |_, _| {
                if flag.load(Ordering::Relaxed) {
                    Err(mlua::Error::runtime(INTERRUPTED))
                } else {
                    Ok(VmState::Continue)
                }
            },
        )
    }

    pub fn trigger(&self) {
        self.flag.store(true, Ordering::Relaxed);
    }

    pub fn reset(&self) {
        self.flag.store(false, Ordering::Relaxed);
    }

    pub fn is_set(&self) -> bool {
        self.flag.load(Ordering::Relaxed)
    }

    /// Runs `work` until it ends or the flag is set, whichever is first (needs a tokio runtime
    /// with its time driver). `None` means interrupted; the future is dropped, which cancels an
    /// in-flight call.
    pub async fn guard<T>(&self, work: impl Future<Output = T>) -> Option<T> {
        tokio::select! {
            out = work => Some(out),
            () = self.wait() => None,
        }
    }

    async fn wait(&self) {
        while !self.is_set() {
            tokio::time::sleep(POLL).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repl::eval::{Outcome, eval};

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
    }

    fn trigger_later(i: &Interrupt) -> std::thread::JoinHandle<()> {
        let i = i.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(150));
            i.trigger();
        })
    }

    #[test]
    fn interrupts_a_pure_lua_loop() {
        let lua = Lua::new();
        let intr = Interrupt::new();
        intr.install(&lua).expect("hook");
        let t = trigger_later(&intr);
        let out = rt().block_on(intr.guard(eval(&lua, "while true do end")));
        t.join().expect("thread");
        match out {
            Some(Outcome::Error(m)) => assert!(m.contains(INTERRUPTED), "{m}"),
            other => panic!("{other:?}"),
        }
        // The flag stays set until reset, so the next chunk fails too: a loop that catches the
        // first error with pcall still stops at its next check outside the pcall.
        let out = rt().block_on(eval(
            &lua,
            "local n = 0 while true do pcall(error, 'x') n = n + 1 end",
        ));
        assert!(
            matches!(out, Outcome::Error(ref m) if m.contains(INTERRUPTED)),
            "{out:?}"
        );
        intr.reset();
        assert!(matches!(rt().block_on(eval(&lua, "1")), Outcome::Values(_)));
    }

    #[test]
    fn interrupts_an_awaited_call() {
        let lua = Lua::new();
        let sleep = lua
            .create_async_function(|_, secs: u64| async move {
                tokio::time::sleep(Duration::from_secs(secs)).await;
                Ok(())
            })
            .expect("fn");
        lua.globals().set("sleep", sleep).expect("set");
        let intr = Interrupt::new();
        intr.install(&lua).expect("hook");
        let t = trigger_later(&intr);
        let started = std::time::Instant::now();
        let out = rt().block_on(intr.guard(eval(&lua, "sleep(30)")));
        t.join().expect("thread");
        assert!(out.is_none());
        assert!(started.elapsed() < Duration::from_secs(5));
        intr.reset();
        assert!(matches!(
            rt().block_on(intr.guard(eval(&lua, "2"))),
            Some(Outcome::Values(_))
        ));
    }
}
