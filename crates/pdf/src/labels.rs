//! Sheets of labels: an N×M grid on a page, each label with a QR code and
//! up to three lines of text, for printing machine labels several per
//! sheet.
//!
//! Owns the grid geometry and the arrangement inside one label. It must
//! not decide what a label says or where its code points.

use crate::Error;
use crate::document::Document;
use crate::font::{Font, truncate};
use crate::layout::Margins;
use crate::page::{PageSize, Rgb, mm};
use crate::qr;

/// Most lines a label holds next to its code.
pub const MAX_LINES: usize = 3;

/// The light margin inside each code's square, in modules; the label's
/// padding adds to it.
const LABEL_QUIET_ZONE: u32 = 2;

/// The grid a sheet is printed with.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LabelSheet {
    pub page: PageSize,
    pub columns: u32,
    pub rows: u32,
    pub margins: Margins,
    /// Space between neighbouring labels.
    pub gap_x: f32,
    pub gap_y: f32,
    /// Space inside a label around its code and text.
    pub padding: f32,
    /// Size of the first line; the others are 90 % of it.
    pub font_size: f32,
    /// A cutting guide around each label; `None` for pre-cut sheets.
    pub outline: Option<Rgb>,
}

impl LabelSheet {
    /// `columns` × `rows` labels filling an A4 page inside 10 mm margins,
    /// 3 mm apart.
    pub fn a4(columns: u32, rows: u32) -> Self {
        Self {
            page: PageSize::A4,
            columns,
            rows,
            margins: Margins::uniform(mm(10.0)),
            gap_x: mm(3.0),
            gap_y: mm(3.0),
            padding: mm(2.5),
            font_size: 10.0,
            outline: None,
        }
    }

    /// Labels per page.
    pub fn per_page(&self) -> usize {
        self.columns as usize * self.rows as usize
    }

    /// Width and height of one label.
    pub fn label_size(&self) -> (f32, f32) {
        let cols = self.columns.max(1) as f32;
        let rows = self.rows.max(1) as f32;
        let width =
            (self.page.width - self.margins.left - self.margins.right - self.gap_x * (cols - 1.0))
                / cols;
        let height =
            (self.page.height - self.margins.top - self.margins.bottom - self.gap_y * (rows - 1.0))
                / rows;
        (width, height)
    }

    /// Top-left corner of the label at `index` on its page.
    fn origin(&self, index: usize) -> (f32, f32) {
        let (width, height) = self.label_size();
        let cols = self.columns.max(1) as usize;
        let (col, row) = ((index % cols) as f32, (index / cols) as f32);
        (
            self.margins.left + col * (width + self.gap_x),
            self.margins.top + row * (height + self.gap_y),
        )
    }
}

/// What one label shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Label {
    qr: String,
    lines: Vec<String>,
}

impl Label {
    /// A label whose code encodes `qr`, with at most [`MAX_LINES`] lines;
    /// the first is set in bold.
    pub fn new(qr: &str, lines: &[&str]) -> Result<Self, Error> {
        if lines.len() > MAX_LINES {
            return Err(Error::Label(format!(
                "a label holds at most {MAX_LINES} lines, got {}",
                lines.len()
            )));
        }
        Ok(Self {
            qr: qr.to_owned(),
            lines: lines.iter().map(|l| (*l).to_owned()).collect(),
        })
    }
}

/// Adds as many pages of `sheet` as `labels` need and draws them in
/// reading order. Lines too long for the label end in an ellipsis. Fails
/// only when a code cannot be encoded, before any page is added.
pub fn render(doc: &mut Document, sheet: &LabelSheet, labels: &[Label]) -> Result<(), Error> {
    if sheet.columns == 0 || sheet.rows == 0 {
        return Err(Error::Label(
            "a sheet needs at least one row and column".into(),
        ));
    }
    let codes = labels
        .iter()
        .map(|l| qr::matrix(&l.qr))
        .collect::<Result<Vec<_>, _>>()?;
    let (width, height) = sheet.label_size();
    let side = (height - 2.0 * sheet.padding).min(width / 2.0).max(1.0);
    let text_left = sheet.padding + side + sheet.padding;
    let text_width = (width - text_left - sheet.padding).max(1.0);

    for (index, (label, code)) in labels.iter().zip(&codes).enumerate() {
        let slot = index % sheet.per_page();
        if slot == 0 {
            doc.add_page(sheet.page);
        }
        let Some(page) = doc.page_mut(doc.page_count() - 1) else {
            continue;
        };
        let (x, y) = sheet.origin(slot);
        if let Some(color) = sheet.outline {
            page.stroke_rect(x, y, width, height, 0.5, color);
        }
        page.qr(
            code,
            x + sheet.padding,
            y + (height - side) / 2.0,
            side,
            LABEL_QUIET_ZONE,
        );

        let sizes: Vec<(Font, f32)> = (0..label.lines.len())
            .map(|i| match i {
                0 => (Font::HelveticaBold, sheet.font_size),
                _ => (Font::Helvetica, sheet.font_size * 0.9),
            })
            .collect();
        let block: f32 = sizes.iter().map(|(_, size)| size * 1.25).sum();
        let mut line_top = y + (height - block) / 2.0;
        for (line, (font, size)) in label.lines.iter().zip(sizes) {
            let fitted = truncate(font, size, line, text_width);
            page.text(x + text_left, line_top + size * 0.95, size, font, &fitted);
            line_top += size * 1.25;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_tile_the_page_inside_the_margins() {
        let sheet = LabelSheet::a4(2, 7);
        let (w, h) = sheet.label_size();
        let (x, y) = sheet.origin(13);
        assert!((x + w - (PageSize::A4.width - sheet.margins.right)).abs() < 1e-2);
        assert!((y + h - (PageSize::A4.height - sheet.margins.bottom)).abs() < 1e-2);
    }

    #[test]
    fn more_labels_than_a_sheet_holds_add_pages() {
        let labels: Vec<Label> = (0..15)
            .map(|i| Label::new(&format!("M-{i}"), &["Equipo"]).expect("label"))
            .collect();
        let mut doc = Document::new();
        render(&mut doc, &LabelSheet::a4(2, 7), &labels).expect("render");
        assert_eq!(doc.page_count(), 2);
    }

    #[test]
    fn four_lines_are_refused() {
        assert!(Label::new("x", &["a", "b", "c", "d"]).is_err());
    }
}
