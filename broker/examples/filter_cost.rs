//! What a content filter (v2 §14) costs per evaluation, in release mode:
//! typical filters, and pathological ones that the evaluation budget stops.
//!
//! `cargo run --release -p broker --example filter_cost`

use std::time::Instant;

use broker::core::content_filter::ContentFilter;
use protocol::format::json::parse_value;

/// Evaluates `filter` on `msg` `n` times and prints the mean time.
fn run(filter: &str, msg: &str, n: u32) {
    let compiled = ContentFilter::compile(filter).expect("compiles");
    let value = parse_value(msg).expect("valid JSON");
    let start = Instant::now();
    let mut passed = 0u32;
    for _ in 0..n {
        passed += u32::from(compiled.accepts(&value, "/shop/orders", 42));
    }
    let mean = start.elapsed() / n;
    println!(
        "{mean:>12.2?}  {filter}  [{} B message, passed {passed}/{n}]",
        msg.len()
    );
}

fn main() {
    println!("mean time per evaluation:");
    let order = r#"{"type": "order", "value": 150}"#;
    run(
        r#"msg.type == "order" && msg.value > 100"#,
        order,
        1_000_000,
    );
    run("seq % 2 == 0", order, 1_000_000);
    run(r#"topic.startsWith("/shop/") && seq > 3"#, order, 1_000_000);
    let start = Instant::now();
    for _ in 0..100_000 {
        parse_value(order).expect("valid JSON");
    }
    println!(
        "{:>12.2?}  (parsing that message for filters that read msg, once per publish)",
        start.elapsed() / 100_000
    );
    println!("the worst cases, stopped by the budget:");
    let numbers: Vec<String> = (0..100_000).map(|i| i.to_string()).collect();
    let big = format!("[{}]", numbers.join(","));
    run("msg.all(x, msg.exists(y, y == x))", &big, 20);
    run("msg.map(x, x * 2).map(x, x + 1).size() > 0", &big, 20);
    let mixed = format!(
        r#"{{"s": "{}", "l": [{}]}}"#,
        "a".repeat(500_000),
        numbers[..10_000].join(",")
    );
    run("msg.l.all(x, msg.l == msg.l)", &mixed, 20);
    run(r#"msg.l.all(x, msg.s.contains("b"))"#, &mixed, 20);
}
