//! The home page's dashboard: each module contributes panels (figures,
//! a chart, recent activity) through its face (`Module::dashboard`); a
//! user sees only the panels whose permission they hold. Every figure and
//! every bar links to the list that shows what it counts.

use serde::Serialize;

use crate::auth::Permission;
use crate::error::AppResult;
use crate::ui::page::PageContext;

/// One panel of the home page. `S` is what it reads from (the application
/// state): modules implement `Tile<AppState>`.
#[async_trait::async_trait]
pub trait Tile<S: Sync>: Send + Sync + 'static {
    /// What a user must hold to see the panel.
    fn permission(&self) -> Permission;

    /// The panel as the user sees it now, worded in the page's language.
    async fn panel(&self, state: &S, page: &PageContext) -> AppResult<Panel>;
}

/// What a panel shows.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Panel {
    pub title: String,
    pub figures: Vec<Figure>,
    pub chart: Option<Chart>,
    /// A short list (recent activity, reasons), each line a link.
    pub list_title: Option<String>,
    pub items: Vec<Item>,
    /// Where the whole panel leads ("Ver todas las órdenes").
    pub more: Option<Item>,
}

/// A counted figure: "Atrasadas 3", linking to those three.
#[derive(Debug, Clone, Serialize)]
pub struct Figure {
    pub label: String,
    pub value: u64,
    pub href: String,
    /// One of the platform's tones (`new`, `progress`, `done`, `problem`,
    /// `closed`), for the figure's mark.
    pub tone: Option<&'static str>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Item {
    pub text: String,
    pub href: String,
    /// A muted note after the text (a time, a person).
    pub note: Option<String>,
}

/// A bar chart drawn on the server as SVG: no script, printable, each bar
/// a link with its label and value as its title.
#[derive(Debug, Clone, Serialize)]
pub struct Chart {
    pub title: String,
    pub width: u32,
    /// Of the drawing area; the baseline lies just under it.
    pub height: u32,
    pub bars: Vec<Bar>,
    /// The largest value, shown in the caption.
    pub max: u64,
    /// Labels under the first, middle and last bars.
    pub ticks: Vec<Tick>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Bar {
    pub label: String,
    pub value: u64,
    pub href: String,
    pub x: u32,
    pub y: u32,
    pub w: u32,
    pub h: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct Tick {
    pub label: String,
}

/// Height of the chart's drawing area, in SVG units.
const PLOT: u32 = 120;
const BAR: u32 = 10;
const GAP: u32 = 2;

impl Chart {
    /// Bars for `(label, value, href)` in order, scaled to the largest.
    pub fn bars(title: String, points: Vec<(String, u64, String)>) -> Chart {
        let max = points.iter().map(|p| p.1).max().unwrap_or(0);
        let n = u32::try_from(points.len()).unwrap_or(u32::MAX);
        let width = n.saturating_mul(BAR + GAP).max(BAR);
        let bars: Vec<Bar> = points
            .into_iter()
            .enumerate()
            .map(|(i, (label, value, href))| {
                // At least one unit for a non-zero day, so it shows.
                let h = value
                    .saturating_mul(u64::from(PLOT))
                    .checked_div(max)
                    .map_or(0, |scaled| {
                        u32::try_from(scaled)
                            .unwrap_or(PLOT)
                            .max(u32::from(value > 0))
                    });
                let x = u32::try_from(i).unwrap_or(0) * (BAR + GAP);
                Bar {
                    label,
                    value,
                    href,
                    x,
                    y: PLOT - h,
                    w: BAR,
                    h,
                }
            })
            .collect();
        let ticks = match bars.len() {
            0 => Vec::new(),
            len => [0, len / 2, len - 1]
                .into_iter()
                .map(|i| Tick {
                    label: bars[i].label.clone(),
                })
                .collect(),
        };
        Chart {
            title,
            width,
            height: PLOT,
            bars,
            max,
            ticks,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_to_the_largest_and_a_small_day_still_shows() {
        let points = vec![
            ("01-12".to_owned(), 0, "/a".to_owned()),
            ("02-12".to_owned(), 1, "/b".to_owned()),
            ("03-12".to_owned(), 200, "/c".to_owned()),
        ];
        let c = Chart::bars("t".into(), points);
        assert_eq!(c.max, 200);
        assert_eq!(c.bars[0].h, 0);
        assert_eq!(c.bars[1].h, 1, "a day with one order is not invisible");
        assert_eq!(c.bars[2].h, PLOT);
        assert_eq!(c.bars[2].y, 0);
        assert_eq!(c.bars[1].x, BAR + GAP);
        assert_eq!(c.ticks.len(), 3);
        assert_eq!(c.ticks[2].label, "03-12");
        let empty = Chart::bars("t".into(), Vec::new());
        assert!(empty.bars.is_empty() && empty.ticks.is_empty());
    }
}
