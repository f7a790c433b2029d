//! Pretty printer for Lua values: sorted, indented tables, arrays as arrays, cycles marked,
//! long lists cut, strings quoted, secrets masked by the rule of chores::secret (`Secret`
//! values, and plain strings under secret-named keys).

use std::collections::HashSet;
use std::fmt::Write as _;

use mlua::{Table, Value};

use crate::chores::secret::{MASK, Secret, is_secret_name, reveal};

/// Lines wider than this are broken over several lines.
const INLINE_WIDTH: usize = 72;

/// Renders values; remembers every secret it masked so history can skip lines containing one.
#[derive(Debug, Clone)]
pub struct Printer {
    pub color: bool,
    /// Entries of one table shown before `... N more`.
    pub max_items: usize,
    /// Nesting shown before `{...}`.
    pub max_depth: usize,
    secrets: HashSet<String>,
}

#[derive(Clone, Copy)]
enum Style {
    Str,
    Num,
    Const,
    Func,
    Dim,
}

impl Printer {
    pub fn new(color: bool) -> Self {
        Printer {
            color,
            max_items: 100,
            max_depth: 12,
            secrets: HashSet::new(),
        }
    }

    /// The secret strings masked so far in this session.
    pub fn secrets(&self) -> &HashSet<String> {
        &self.secrets
    }

    /// Whether `line` contains a secret this printer has masked.
    pub fn contains_secret(&self, line: &str) -> bool {
        self.secrets.iter().any(|s| line.contains(s.as_str()))
    }

    /// Several results side by side, as `lua.c` prints them.
    pub fn render_all(&mut self, values: &[Value]) -> String {
        values
            .iter()
            .map(|v| self.render(v))
            .collect::<Vec<_>>()
            .join("\t")
    }

    pub fn render(&mut self, value: &Value) -> String {
        let mut path = Vec::new();
        self.value(value, &mut path)
    }

    fn paint(&self, style: Style, text: &str) -> String {
        if !self.color {
            return text.to_string();
        }
        let code = match style {
            Style::Str => "32",
            Style::Num => "36",
            Style::Const => "35",
            Style::Func => "34",
            Style::Dim => "2",
        };
        format!("\x1b[{code}m{text}\x1b[0m")
    }

    /// `path` holds the tables being printed above this one, to spot cycles.
    fn value(&mut self, value: &Value, path: &mut Vec<*const std::ffi::c_void>) -> String {
        match value {
            Value::String(s) => self.paint(Style::Str, &quote(&s.as_bytes())),
            Value::Integer(_) | Value::Number(_) => self.paint(Style::Num, &lua_tostring(value)),
            Value::Nil | Value::Boolean(_) => self.paint(Style::Const, &lua_tostring(value)),
            Value::Table(t) => self.table(t, path),
            Value::UserData(u) if u.is::<Secret>() => {
                if let Ok(Some(secret)) = reveal(value) {
                    self.remember(secret);
                }
                self.paint(Style::Dim, MASK)
            }
            _ => self.paint(Style::Func, &lua_tostring(value)),
        }
    }

    fn table(&mut self, t: &Table, path: &mut Vec<*const std::ffi::c_void>) -> String {
        let meta = t.metatable();
        // Values that describe themselves (cloud errors, ...) print as they ask.
        if meta
            .as_ref()
            .is_some_and(|m| m.raw_get::<Value>("__tostring").is_ok_and(|v| !v.is_nil()))
        {
            return lua_tostring(&Value::Table(t.clone()));
        }
        let ptr = t.to_pointer();
        if path.contains(&ptr) {
            return self.paint(Style::Dim, "<cycle>");
        }
        if path.len() >= self.max_depth {
            return self.paint(Style::Dim, "{...}");
        }
        if let Err(e) = crate::lua::lazy::force(t) {
            return self.paint(Style::Dim, &format!("<{e}>"));
        }
        let mut pairs: Vec<(Value, Value)> =
            t.pairs::<Value, Value>().filter_map(Result::ok).collect();
        if pairs.is_empty() {
            return "{}".to_string();
        }
        let n = t.raw_len();
        let is_array = n == pairs.len()
            && pairs
                .iter()
                .all(|(k, _)| matches!(k, Value::Integer(i) if *i >= 1 && (*i as usize) <= n));
        pairs.sort_by(|a, b| key_order(&a.0, &b.0));
        let total = pairs.len();
        path.push(ptr);
        let mut items = Vec::with_capacity(total.min(self.max_items) + 1);
        for (k, v) in pairs.iter().take(self.max_items) {
            let shown = self.field(k, v, path);
            items.push(if is_array {
                shown
            } else {
                format!("{} = {shown}", self.key(k, path))
            });
        }
        path.pop();
        if total > self.max_items {
            items.push(self.paint(Style::Dim, &format!("... {} more", total - self.max_items)));
        }
        layout(&items)
    }

    /// A string under a secret-named key (a table the user built, decoded JSON) is masked like
    /// a `Secret`; API responses carry `Secret` values already.
    fn field(&mut self, k: &Value, v: &Value, path: &mut Vec<*const std::ffi::c_void>) -> String {
        if let (Value::String(name), Value::String(secret)) = (k, v)
            && is_secret_name(&name.to_string_lossy())
        {
            self.remember(secret.to_string_lossy());
            return self.paint(Style::Dim, MASK);
        }
        self.value(v, path)
    }

    /// Keeps a masked secret's text so history can skip lines containing it.
    fn remember(&mut self, secret: String) {
        // An empty value hides nothing, and would match every line.
        if !secret.is_empty() {
            self.secrets.insert(secret);
        }
    }

    fn key(&mut self, k: &Value, path: &mut Vec<*const std::ffi::c_void>) -> String {
        if let Value::String(s) = k {
            let bytes = s.as_bytes();
            if let Ok(name) = std::str::from_utf8(&bytes)
                && is_identifier(name)
            {
                return name.to_string();
            }
            return format!("[{}]", quote(&bytes));
        }
        format!("[{}]", self.value(k, path))
    }
}

/// `{ a, b }` when it fits on a line, else one entry per line, indented.
fn layout(items: &[String]) -> String {
    let width: usize = items.iter().map(|s| visible_len(s) + 2).sum();
    if width <= INLINE_WIDTH && items.iter().all(|s| !s.contains('\n')) {
        return format!("{{ {} }}", items.join(", "));
    }
    let mut out = String::from("{\n");
    for (i, item) in items.iter().enumerate() {
        let sep = if i + 1 < items.len() { "," } else { "" };
        let _ = writeln!(out, "  {}{sep}", item.replace('\n', "\n  "));
    }
    out.push('}');
    out
}

/// Length without ANSI colour codes, so colour does not change the layout.
fn visible_len(s: &str) -> usize {
    let mut n = 0;
    let mut in_escape = false;
    for c in s.chars() {
        match (in_escape, c) {
            (false, '\x1b') => in_escape = true,
            (true, 'm') => in_escape = false,
            (true, _) => {}
            (false, _) => n += 1,
        }
    }
    n
}

/// Numbers first (by value), then strings, then anything else (by type, then address).
fn key_order(a: &Value, b: &Value) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    fn rank(v: &Value) -> u8 {
        match v {
            Value::Integer(_) | Value::Number(_) => 0,
            Value::String(_) => 1,
            Value::Boolean(_) => 2,
            _ => 3,
        }
    }
    fn num(v: &Value) -> f64 {
        match v {
            Value::Integer(i) => *i as f64,
            Value::Number(n) => *n,
            _ => 0.0,
        }
    }
    match (a, b) {
        (Value::Integer(x), Value::Integer(y)) => x.cmp(y),
        (Value::String(x), Value::String(y)) => x.as_bytes().cmp(&y.as_bytes()),
        (Value::Boolean(x), Value::Boolean(y)) => x.cmp(y),
        _ if rank(a) == 0 && rank(b) == 0 => num(a).partial_cmp(&num(b)).unwrap_or(Ordering::Equal),
        _ => rank(a)
            .cmp(&rank(b))
            .then_with(|| a.type_name().cmp(b.type_name()))
            .then_with(|| a.to_pointer().cmp(&b.to_pointer())),
    }
}

/// Lua's own `tostring` (honours `__tostring`, formats floats as Lua does).
fn lua_tostring(v: &Value) -> String {
    if let Value::Number(n) = v {
        return format_float(*n);
    }
    v.to_string()
        .unwrap_or_else(|e| format!("<{}: {e}>", v.type_name()))
}

/// Lua 5.4's `%.14g` float format, with `.0` added to integral values (`2^1` is `2.0`).
fn format_float(n: f64) -> String {
    if n.is_nan() {
        return if n.is_sign_negative() { "-nan" } else { "nan" }.to_string();
    }
    if n.is_infinite() {
        return if n > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    let sci = format!("{n:.13e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let text = if !(-4..14).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{}e{sign}{:02}", trim_fraction(mantissa), exp.abs())
    } else {
        trim_fraction(&format!("{n:.*}", (13 - exp).max(0) as usize)).to_string()
    };
    if text.bytes().all(|b| b == b'-' || b.is_ascii_digit()) {
        format!("{text}.0")
    } else {
        text
    }
}

/// `1.500` -> `1.5`, `2.000` -> `2`.
fn trim_fraction(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

const KEYWORDS: &[&str] = &[
    "and", "break", "do", "else", "elseif", "end", "false", "for", "function", "goto", "if", "in",
    "local", "nil", "not", "or", "repeat", "return", "then", "true", "until", "while",
];

/// A name usable as `t.name` in Lua source.
pub fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
        && !KEYWORDS.contains(&s)
}

/// A Lua string literal that reads back as the same bytes.
pub fn quote(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 2);
    out.push('"');
    let text = String::from_utf8_lossy(bytes);
    let valid = matches!(text, std::borrow::Cow::Borrowed(_));
    if valid {
        for c in text.chars() {
            push_escaped(&mut out, c);
        }
    } else {
        // Not UTF-8: escape every non-ASCII byte so nothing is lost.
        for &b in bytes {
            if b.is_ascii() {
                push_escaped(&mut out, b as char);
            } else {
                let _ = write!(out, "\\{b}");
            }
        }
    }
    out.push('"');
    out
}

fn push_escaped(out: &mut String, c: char) {
    match c {
        '"' => out.push_str("\\\""),
        '\\' => out.push_str("\\\\"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c if (c as u32) < 0x20 || c as u32 == 0x7f => {
            let _ = write!(out, "\\{}", c as u32);
        }
        c => out.push(c),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mlua::Lua;

    fn show(src: &str) -> String {
        let lua = Lua::new();
        let v: Value = lua.load(src).eval().expect("valid test chunk");
        Printer::new(false).render(&v)
    }

    #[test]
    fn scalars() {
        assert_eq!(show("1+1"), "2");
        assert_eq!(show("1.5"), "1.5");
        assert_eq!(show("2^1"), "2.0");
        assert_eq!(show("0.1 + 0.2"), "0.3");
        assert_eq!(show("1e100"), "1e+100");
        assert_eq!(show("-1.25e-7"), "-1.25e-07");
        assert_eq!(show("1/0"), "inf");
        assert_eq!(show("123456.789"), "123456.789");
        assert_eq!(show("nil"), "nil");
        assert_eq!(show("true"), "true");
        assert_eq!(show(r#""a\"b\n\0c""#), r#""a\"b\n\0c""#);
        assert_eq!(show(r#""\200""#), r#""\200""#);
        assert!(show("print").starts_with("function: "));
    }

    #[test]
    fn arrays_and_maps() {
        assert_eq!(show("{}"), "{}");
        assert_eq!(show("{1, 2, 3}"), "{ 1, 2, 3 }");
        assert_eq!(
            show("{b = 2, a = 'x', ['two words'] = true, [10] = 1, ['end'] = 0}"),
            r#"{ [10] = 1, a = "x", b = 2, ["end"] = 0, ["two words"] = true }"#
        );
        assert_eq!(show("{1, 2, nil, 4}"), "{ [1] = 1, [2] = 2, [4] = 4 }");
    }

    #[test]
    fn nested_tables_indent() {
        let out = show(
            "{ name = 'r1', parts = { { name = 'main', id = 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' } } }",
        );
        assert_eq!(
            out,
            "{\n  name = \"r1\",\n  parts = {\n    { id = \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\", name = \"main\" }\n  }\n}"
        );
    }

    #[test]
    fn cycles_are_marked() {
        assert_eq!(
            show("local t = {n = 1}; t.self = t; return t"),
            "{ n = 1, self = <cycle> }"
        );
        // A table seen twice but not inside itself is printed twice.
        assert_eq!(
            show("local s = {1}; return {a = s, b = s}"),
            "{ a = { 1 }, b = { 1 } }"
        );
    }

    #[test]
    fn long_lists_are_cut() {
        let out = show("local t = {} for i = 1, 10000 do t[i] = i end return t");
        assert!(
            out.ends_with("  ... 9900 more\n}"),
            "{}",
            &out[out.len() - 40..]
        );
        assert!(out.contains("  100,\n"));
        assert!(!out.contains("  101,"));
    }

    #[test]
    fn depth_is_limited() {
        let out = show("local t = {} local c = t for i = 1, 20 do c.x = {} c = c.x end return t");
        assert!(out.contains("{...}"));
    }

    #[test]
    fn secrets_are_masked_and_remembered() {
        let lua = Lua::new();
        let key = crate::chores::secret::new_secret(&lua, "supersecretkey".into()).expect("secret");
        lua.globals().set("key", key).expect("global");
        let v: Value = lua
            .load("{ id = 'k1', key = key, secrets = { { id = 's', secret = 'partsecret1' } }, name = 'n' }")
            .eval()
            .expect("chunk");
        // A bare Secret prints masked too (`k` after `local k, id = cloud.create_key{...}`).
        let mut bare = Printer::new(false);
        assert_eq!(bare.render(&lua.globals().get("key").expect("key")), MASK);
        assert!(bare.contains_secret("paste supersecretkey here"));
        // The rule is chores::secret's: `key` names a secret only in API-key messages, so a
        // user's own `key` string prints; `secret`, `password`... are masked anywhere.
        assert_eq!(
            Printer::new(false)
                .render(&lua.load("{ key = 'k', password = 'p' }").eval().expect("t")),
            "{ key = \"k\", password = **** }"
        );
        let mut p = Printer::new(false);
        let out = p.render(&v);
        assert!(
            !out.contains("supersecretkey") && !out.contains("partsecret1"),
            "{out}"
        );
        assert!(
            out.contains("key = ****") && out.contains("secret = ****"),
            "{out}"
        );
        assert!(out.contains("id = \"k1\""));
        assert!(p.contains_secret("x = 'supersecretkey'"));
        assert!(p.contains_secret("partsecret1"));
        assert!(!p.contains_secret("k1 n"));
    }

    #[test]
    fn tostring_metamethod_is_used() {
        let out = show(
            "return setmetatable({ code = 'NOT_FOUND', message = 'no robot', method = 'GetRobot' }, { __tostring = function(e) return e.method .. ': ' .. e.code .. ': ' .. e.message end })",
        );
        assert_eq!(out, "GetRobot: NOT_FOUND: no robot");
    }

    #[test]
    fn colour_only_when_asked() {
        let lua = Lua::new();
        let v: Value = lua.load("{ 'a', 1 }").eval().expect("chunk");
        assert_eq!(
            Printer::new(true).render(&v),
            "{ \x1b[32m\"a\"\x1b[0m, \x1b[36m1\x1b[0m }"
        );
        assert_eq!(Printer::new(false).render(&v), "{ \"a\", 1 }");
    }

    #[test]
    fn several_values_side_by_side() {
        let lua = Lua::new();
        let v: mlua::MultiValue = lua.load("return 1, 'a', nil").eval().expect("chunk");
        assert_eq!(
            Printer::new(false).render_all(&v.into_vec()),
            "1\t\"a\"\tnil"
        );
    }
}
