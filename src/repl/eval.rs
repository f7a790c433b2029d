//! Evaluation of one REPL input, independent of any terminal.

use mlua::{Error, Function, Lua, MultiValue, Value};

/// What one input produced.
#[derive(Debug)]
pub enum Outcome {
    /// The chunk ran; these are its results (empty for a statement).
    Values(Vec<Value>),
    /// The chunk is unfinished (an open `function`, `{`, long string, ...): read another line.
    Incomplete,
    /// It failed to compile or to run; the message is ready to print.
    Error(String),
}

/// Compiles and runs `input` as `lua.c` does: first as `return <input>` so that expressions
/// print without `return`, then as a statement. The first result is kept in the global `_`.
/// A `local` declaration that starts the input outlives it (see `keep_locals`).
pub async fn eval(lua: &Lua, input: &str) -> Outcome {
    let input = keep_locals(input);
    let chunk = match compile(lua, &input) {
        Ok(f) => f,
        Err(outcome) => return outcome,
    };
    match chunk.call_async::<MultiValue>(()).await {
        Ok(values) => {
            let values = values.into_vec();
            if let Some(first) = values.first()
                && let Err(e) = lua.globals().raw_set("_", first.clone())
            {
                return Outcome::Error(message(&e));
            }
            Outcome::Values(values)
        }
        Err(e) => Outcome::Error(message(&e)),
    }
}

/// Each input is its own chunk, so `local k = ...` would be gone by the next prompt. At the
/// start of the input, `local a, b = ...` becomes `a, b = ...` and `local function f` becomes
/// `function f`, so the names are there on the next line (as globals). Declarations with
/// attributes (`<const>`, `<close>`) and later `local`s keep their meaning.
fn keep_locals(input: &str) -> std::borrow::Cow<'_, str> {
    use std::borrow::Cow;
    let body = input.trim_start();
    let Some(rest) = body.strip_prefix("local") else {
        return Cow::Borrowed(input);
    };
    if !rest.starts_with(char::is_whitespace) {
        return Cow::Borrowed(input);
    }
    let rest = rest.trim_start();
    if let Some(after) = rest.strip_prefix("function")
        && after.starts_with(char::is_whitespace)
    {
        return Cow::Owned(rest.to_string());
    }
    // A name list, then `=`, or the end of the statement (`local x` declares a nil).
    let mut tail = rest;
    loop {
        let len = tail
            .find(|c: char| !(c == '_' || c.is_ascii_alphanumeric()))
            .unwrap_or(tail.len());
        if !super::printer::is_identifier(&tail[..len]) {
            return Cow::Borrowed(input);
        }
        tail = tail[len..].trim_start();
        match tail.strip_prefix(',') {
            Some(more) => tail = more.trim_start(),
            None => break,
        }
    }
    let names = &rest[..rest.len() - tail.len()];
    if tail.starts_with('=') && !tail.starts_with("==") {
        Cow::Owned(rest.to_string())
    } else if tail.is_empty() || tail.starts_with(';') {
        Cow::Owned(format!("{} = nil{tail}", names.trim_end()))
    } else {
        Cow::Borrowed(input)
    }
}

fn compile(lua: &Lua, input: &str) -> Result<Function, Outcome> {
    let as_expr = lua
        .load(format!("return {input}"))
        .set_name("=stdin")
        .into_function();
    let expr_err = match as_expr {
        Ok(f) => return Ok(f),
        Err(e) => e,
    };
    match lua.load(input).set_name("=stdin").into_function() {
        Ok(f) => Ok(f),
        // `{` alone is only unfinished as an expression, `function f()` only as a statement.
        Err(e) if is_incomplete(&e) || is_incomplete(&expr_err) => Err(Outcome::Incomplete),
        Err(e) => Err(Outcome::Error(message(&e))),
    }
}

fn is_incomplete(e: &Error) -> bool {
    matches!(
        e,
        Error::SyntaxError {
            incomplete_input: true,
            ..
        }
    )
}

/// The message a user needs: the innermost cause, without mlua's wrapping and tracebacks.
pub fn message(e: &Error) -> String {
    match e {
        Error::CallbackError { cause, .. } => message(cause),
        Error::WithContext { context, cause } => format!("{context}: {}", message(cause)),
        // mlua appends a traceback to runtime errors; at a prompt it is noise. A position in
        // fleetsh's own Lua (prelude.lua) is not the user's: it goes too.
        Error::SyntaxError { message, .. } | Error::RuntimeError(message) => {
            let m = message
                .split_once("\nstack traceback:")
                .map_or(message.as_str(), |(m, _)| m);
            crate::run::strip_internal_position(m)
                .unwrap_or(m)
                .to_string()
        }
        Error::ExternalError(inner) => inner.to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(lua: &Lua, input: &str) -> Outcome {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(eval(lua, input))
    }

    fn values(lua: &Lua, input: &str) -> Vec<Value> {
        match run(lua, input) {
            Outcome::Values(v) => v,
            other => panic!("{input:?} gave {other:?}"),
        }
    }

    #[test]
    fn expressions_need_no_return() {
        let lua = Lua::new();
        assert_eq!(values(&lua, "1+1"), vec![Value::Integer(2)]);
        assert_eq!(values(&lua, "return 3"), vec![Value::Integer(3)]);
    }

    #[test]
    fn statements_run_and_return_nothing() {
        let lua = Lua::new();
        assert!(values(&lua, "x = 41").is_empty());
        assert_eq!(values(&lua, "x + 1"), vec![Value::Integer(42)]);
        assert!(values(&lua, "local y = 1").is_empty());
        assert!(values(&lua, "for i = 1, 3 do x = x + i end").is_empty());
        assert_eq!(values(&lua, "x"), vec![Value::Integer(47)]);
    }

    #[test]
    fn leading_locals_outlive_their_line() {
        let lua = Lua::new();
        assert!(values(&lua, "local k, id = 'key', 7").is_empty());
        assert_eq!(values(&lua, "id"), vec![Value::Integer(7)]);
        assert!(values(&lua, "  local function twice(x) return 2 * x end").is_empty());
        assert_eq!(values(&lua, "twice(id)"), vec![Value::Integer(14)]);
        values(&lua, "local nothing");
        assert_eq!(values(&lua, "nothing"), vec![Value::Nil]);
        // Multi-line input is still recognised as unfinished.
        assert!(matches!(run(&lua, "local t = {"), Outcome::Incomplete));
        assert!(values(&lua, "local t = {\n 3 }").is_empty());
        assert_eq!(values(&lua, "t[1]"), vec![Value::Integer(3)]);
        // Attributes and later locals keep Lua's meaning.
        assert!(values(&lua, "local c <const> = 1").is_empty());
        assert_eq!(values(&lua, "c"), vec![Value::Nil]);
        assert!(values(&lua, "x = 1; local y = 2").is_empty());
        assert_eq!(values(&lua, "y"), vec![Value::Nil]);
        assert_eq!(keep_locals("localx = 1"), "localx = 1");
        assert_eq!(keep_locals("local a, b"), "a, b = nil");
    }

    #[test]
    fn several_results() {
        let lua = Lua::new();
        let v = values(&lua, "1, 'a', nil");
        assert_eq!(v.len(), 3);
        assert_eq!(v[0], Value::Integer(1));
        assert!(v[2].is_nil());
    }

    #[test]
    fn underscore_holds_last_first_result() {
        let lua = Lua::new();
        values(&lua, "10, 20");
        assert_eq!(values(&lua, "_ * 2"), vec![Value::Integer(20)]);
        // A statement leaves `_` alone.
        values(&lua, "z = 1");
        assert_eq!(values(&lua, "_"), vec![Value::Integer(20)]);
    }

    #[test]
    fn incomplete_input_continues() {
        let lua = Lua::new();
        for input in [
            "function f()",
            "f = function(a)",
            "{",
            "t = { 1,",
            "x = [[long",
            "print(",
            "if true then",
            "'abc",
            "1 +",
        ] {
            assert!(matches!(run(&lua, input), Outcome::Incomplete), "{input:?}");
        }
        assert!(values(&lua, "function f(a)\n  return a * 2\nend").is_empty());
        assert_eq!(values(&lua, "f(21)"), vec![Value::Integer(42)]);
        assert_eq!(values(&lua, "{\n1,\n2 }").len(), 1);
        assert_eq!(
            values(&lua, "[[a\nb]]"),
            vec![Value::String(lua.create_string("a\nb").expect("string"))]
        );
    }

    #[test]
    fn errors_are_messages() {
        let lua = Lua::new();
        match run(&lua, "error('boom')") {
            Outcome::Error(m) => assert_eq!(m, "stdin:1: boom"),
            other => panic!("{other:?}"),
        }
        match run(&lua, "x = = 1") {
            Outcome::Error(m) => assert!(m.contains("unexpected symbol"), "{m}"),
            other => panic!("{other:?}"),
        }
        match run(&lua, "'a\nb'") {
            Outcome::Error(m) => assert!(m.contains("unfinished string"), "{m}"),
            other => panic!("{other:?}"),
        }
        // The state still works after an error.
        assert_eq!(values(&lua, "2"), vec![Value::Integer(2)]);
    }

    #[test]
    fn positions_in_fleetshs_own_lua_are_not_shown() {
        let lua = Lua::new();
        let f: Function = lua
            .load("return function() error('no such field') end")
            .set_name("@prelude.lua")
            .call(())
            .expect("fn");
        lua.globals().set("internal", f).expect("set");
        match run(&lua, "internal()") {
            Outcome::Error(m) => assert_eq!(m, "no such field"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn rust_errors_show_their_cause() {
        let lua = Lua::new();
        let f = lua
            .create_function(|_, ()| -> mlua::Result<()> {
                Err(Error::external("NOT_FOUND: robot r1 not found"))
            })
            .expect("fn");
        lua.globals().set("fail", f).expect("set");
        match run(&lua, "fail()") {
            Outcome::Error(m) => assert_eq!(m, "NOT_FOUND: robot r1 not found"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn async_functions_are_awaited() {
        let lua = Lua::new();
        let f = lua
            .create_async_function(|_, n: i64| async move {
                tokio::task::yield_now().await;
                Ok(n + 1)
            })
            .expect("fn");
        lua.globals().set("later", f).expect("set");
        assert_eq!(values(&lua, "later(1)"), vec![Value::Integer(2)]);
    }
}
