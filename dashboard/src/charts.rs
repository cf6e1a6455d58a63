//! Charts drawn on the server as inline SVG: horizontal bars, each labelled with its figure, so a
//! chart needs no script and its numbers are in the page (the browser test reads them back).

use std::fmt::Write;

use crate::escape;

/// One bar: a label, a value (its length) and the text written beside it.
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    /// What it measures (e.g. `hello p95 run`).
    pub label: String,
    /// Its length, in the chart's unit; `None`: no figure (drawn as `n/a`, no bar).
    pub value: Option<f64>,
    /// The figure as written (e.g. `4.0 s`).
    pub text: String,
}

const WIDTH: f64 = 640.0;
const LABEL: f64 = 200.0;
const ROW: f64 = 22.0;

/// A horizontal bar chart titled `title`; bars scale to the largest value.
pub fn bars(id: &str, title: &str, bars: &[Bar]) -> String {
    let max = bars.iter().filter_map(|b| b.value).fold(0.0_f64, f64::max);
    let height = ROW * bars.len() as f64 + 30.0;
    let span = WIDTH - LABEL - 90.0;
    let mut svg = String::new();
    let _ = write!(
        svg,
        "<svg class=\"chart\" id=\"{id}\" role=\"img\" aria-label=\"{t}\" viewBox=\"0 0 {WIDTH} {height}\" \
         width=\"{WIDTH}\" height=\"{height}\" xmlns=\"http://www.w3.org/2000/svg\">\
         <title>{t}</title><text class=\"chart-title\" x=\"0\" y=\"16\">{t}</text>",
        id = escape(id),
        t = escape(title)
    );
    for (i, bar) in bars.iter().enumerate() {
        let y = 28.0 + ROW * i as f64;
        let len = match bar.value {
            Some(v) if max > 0.0 => (v / max * span).max(1.0),
            _ => 0.0,
        };
        let _ = write!(
            svg,
            "<g class=\"bar\" data-label=\"{label}\" data-value=\"{value}\">\
             <text x=\"0\" y=\"{ty}\">{label}</text>\
             <rect x=\"{LABEL}\" y=\"{y}\" width=\"{len:.1}\" height=\"{h}\"></rect>\
             <text class=\"figure\" x=\"{tx:.1}\" y=\"{ty}\">{text}</text></g>",
            label = escape(&bar.label),
            value = bar.value.map(|v| v.to_string()).unwrap_or_default(),
            ty = y + 14.0,
            h = ROW - 6.0,
            tx = LABEL + len + 6.0,
            text = escape(&bar.text),
        );
    }
    svg.push_str("</svg>");
    svg
}

/// Milliseconds as seconds with one decimal (`n/a` for none): how every duration is written.
pub fn seconds(ms: Option<i64>) -> String {
    ms.map_or_else(|| "n/a".into(), |ms| format!("{:.1} s", ms as f64 / 1000.0))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_to_the_largest_and_write_every_figure() {
        let svg = bars(
            "c",
            "run <time>",
            &[
                Bar { label: "a".into(), value: Some(2.0), text: "2.0 s".into() },
                Bar { label: "b".into(), value: Some(4.0), text: "4.0 s".into() },
                Bar { label: "c".into(), value: None, text: "n/a".into() },
            ],
        );
        assert!(svg.contains("run &lt;time&gt;"));
        // The span is 640 - 200 - 90 = 350: the largest bar is 350 long, half of it 175.
        assert!(svg.contains("width=\"350.0\""), "{svg}");
        assert!(svg.contains("width=\"175.0\""), "{svg}");
        assert!(svg.contains("width=\"0.0\"") && svg.contains(">n/a<"));
        assert_eq!(seconds(Some(1500)), "1.5 s");
        assert_eq!(seconds(None), "n/a");
    }
}
