//! Small bar charts drawn on the server as SVG (no chart library, no script): the geometry is
//! computed here and `templates/admin/chart.html` draws it. Labels are auto-escaped text.

/// One bar.
pub struct Bar {
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
    /// The tooltip (`<title>`): label and value.
    pub title: String,
    /// CSS class of the bar (its colour), e.g. `bar-ok`, `bar-failed`.
    pub class: &'static str,
    /// The label under the bar, when there is room for one.
    pub label: Option<String>,
    pub label_x: f64,
}

/// A chart ready to draw.
pub struct BarChart {
    pub width: f64,
    pub height: f64,
    /// The baseline's y.
    pub base: f64,
    pub bars: Vec<Bar>,
    /// Value of the top gridline and its y, for the scale.
    pub max_label: String,
    pub max_y: f64,
    /// A description for screen readers.
    pub summary: String,
}

/// An input bar: label, value, CSS class, and whether to print its label.
pub struct Datum {
    pub label: String,
    pub value: u64,
    pub class: &'static str,
    pub show_label: bool,
}

const WIDTH: f64 = 460.0;
const HEIGHT: f64 = 170.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = 22.0;
const LEFT: f64 = 36.0;

/// Lays out `data` as bars scaled to the largest value (a round number above it).
pub fn bars(data: &[Datum], summary: String) -> BarChart {
    let max = data.iter().map(|d| d.value).max().unwrap_or(0);
    let scale_max = nice_ceiling(max);
    let base = HEIGHT - BOTTOM;
    let plot = base - TOP;
    let slot = (WIDTH - LEFT) / data.len().max(1) as f64;
    let width = (slot * 0.66).clamp(2.0, 48.0);
    let bars = data
        .iter()
        .enumerate()
        .map(|(index, datum)| {
            let height = if scale_max == 0 {
                0.0
            } else {
                plot * datum.value as f64 / scale_max as f64
            };
            // A zero still shows as a hairline, so the day is visibly there.
            let height = height.max(1.0);
            let x = LEFT + slot * index as f64 + (slot - width) / 2.0;
            Bar {
                x: round(x),
                y: round(base - height),
                width: round(width),
                height: round(height),
                title: format!("{}: {}", datum.label, datum.value),
                class: datum.class,
                label: datum.show_label.then(|| datum.label.clone()),
                label_x: round(x + width / 2.0),
            }
        })
        .collect();
    BarChart {
        width: WIDTH,
        height: HEIGHT,
        base,
        bars,
        max_label: scale_max.to_string(),
        max_y: TOP,
        summary,
    }
}

fn round(value: f64) -> f64 {
    (value * 10.0).round() / 10.0
}

/// 1, 2 or 5 times a power of ten, at or above `value` (0 stays 0).
fn nice_ceiling(value: u64) -> u64 {
    if value == 0 {
        return 0;
    }
    let mut step = 1u64;
    loop {
        for factor in [1, 2, 5] {
            let candidate = step.saturating_mul(factor);
            if candidate >= value {
                return candidate;
            }
        }
        step = step.saturating_mul(10);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_is_round_and_bars_fit() {
        assert_eq!(nice_ceiling(0), 0);
        assert_eq!(nice_ceiling(7), 10);
        assert_eq!(nice_ceiling(11), 20);
        assert_eq!(nice_ceiling(1_999), 2_000);
        let data: Vec<Datum> = (0..14)
            .map(|i| Datum {
                label: format!("d{i}"),
                value: i * 3,
                class: "bar",
                show_label: i % 2 == 0,
            })
            .collect();
        let chart = bars(&data, String::new());
        assert_eq!(chart.max_label, "50");
        for bar in &chart.bars {
            assert!(bar.y >= TOP - 0.1 && bar.y + bar.height <= chart.base + 0.1);
            assert!(bar.x >= LEFT && bar.x + bar.width <= WIDTH + 0.1);
        }
    }
}
