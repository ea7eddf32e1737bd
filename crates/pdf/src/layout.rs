//! A small flowing layout on top of pages, enough for reports and
//! registers: titles, wrapped paragraphs and tables that continue on new
//! pages with their header repeated, plus page-number footers.
//!
//! Owns vertical flow and page breaks. It must not know file structure or
//! translate anything: callers pass every visible text, footer pattern
//! included.

use crate::document::Document;
use crate::font::{Font, wrap};
use crate::page::{Align, Page, PageSize, RectStyle, Rgb};

/// Space kept free on each side of a page, in points.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Margins {
    pub top: f32,
    pub right: f32,
    pub bottom: f32,
    pub left: f32,
}

impl Margins {
    pub const fn uniform(value: f32) -> Self {
        Self {
            top: value,
            right: value,
            bottom: value,
            left: value,
        }
    }
}

impl Default for Margins {
    /// 40 pt around, 56 pt at the bottom to leave room for a footer.
    fn default() -> Self {
        Self {
            bottom: 56.0,
            ..Self::uniform(40.0)
        }
    }
}

/// Writes content top to bottom, starting new pages of the same size when
/// the current one is full.
pub struct Flow<'d> {
    doc: &'d mut Document,
    size: PageSize,
    margins: Margins,
    page: usize,
    y: f32,
}

impl<'d> Flow<'d> {
    /// Starts a new page in `doc` and places the cursor at its top margin.
    pub fn new(doc: &'d mut Document, size: PageSize, margins: Margins) -> Self {
        doc.add_page(size);
        let page = doc.page_count() - 1;
        Self {
            doc,
            size,
            margins,
            page,
            y: margins.top,
        }
    }

    /// The page being written, for drawing of one's own at [`Self::y`].
    pub fn page(&mut self) -> &mut Page {
        &mut self.doc.pages_mut()[self.page]
    }

    /// The cursor: the top of the next thing placed, from the page top.
    pub fn y(&self) -> f32 {
        self.y
    }

    pub fn left(&self) -> f32 {
        self.margins.left
    }

    pub fn content_width(&self) -> f32 {
        (self.size.width - self.margins.left - self.margins.right).max(1.0)
    }

    /// Height left above the bottom margin.
    pub fn remaining(&self) -> f32 {
        self.size.height - self.margins.bottom - self.y
    }

    pub fn new_page(&mut self) {
        self.doc.add_page(self.size);
        self.page = self.doc.page_count() - 1;
        self.y = self.margins.top;
    }

    /// Moves the cursor down; space never carries over to a new page.
    pub fn advance(&mut self, height: f32) {
        self.y = (self.y + height).min(self.size.height - self.margins.bottom);
    }

    /// Starts a new page unless `height` still fits (or the page is empty,
    /// where breaking would not help).
    pub fn ensure_space(&mut self, height: f32) {
        if height > self.remaining() && self.y > self.margins.top {
            self.new_page();
        }
    }

    /// A bold heading followed by half its size of space.
    pub fn title(&mut self, text: &str, size: f32) {
        self.lines(text, Font::HelveticaBold, size, Align::Left);
        self.advance(size * 0.5);
    }

    /// Text wrapped to the content width, breaking pages between lines.
    pub fn paragraph(&mut self, text: &str, font: Font, size: f32) {
        self.lines(text, font, size, Align::Left);
    }

    /// Like [`Self::paragraph`] with each line aligned as asked.
    pub fn lines(&mut self, text: &str, font: Font, size: f32, align: Align) {
        let line_height = size * LINE_SPACING;
        let left = self.left();
        let width = self.content_width();
        let anchor = match align {
            Align::Left => left,
            Align::Center => left + width / 2.0,
            Align::Right => left + width,
        };
        for line in wrap(font, size, text, width) {
            self.ensure_space(line_height);
            let baseline = self.y + baseline_offset(size);
            self.page()
                .text_aligned(anchor, baseline, size, font, &line, align);
            self.y += line_height;
        }
    }

    /// Draws `table` at the cursor. Rows never split: a row that does not
    /// fit goes to a new page, under a repeated header. A single row taller
    /// than a whole page is drawn anyway and runs past the bottom margin.
    pub fn table(&mut self, table: &Table) {
        let widths = table.fitted_widths(self.content_width());
        let header: Vec<Cell> = table
            .columns
            .iter()
            .map(|c| Cell {
                text: c.header.clone(),
                fill: table.header_fill,
            })
            .collect();
        let header_layout = table.layout_row(&header, &widths, Font::HelveticaBold);

        let first_height = table
            .rows
            .first()
            .map_or(0.0, |row| table.layout_row(row, &widths, Font::Helvetica).0);
        self.ensure_space(header_layout.0 + first_height);
        self.draw_row(table, &widths, &header_layout, &header, Font::HelveticaBold);

        for row in &table.rows {
            let layout = table.layout_row(row, &widths, Font::Helvetica);
            if layout.0 > self.remaining() {
                self.new_page();
                self.draw_row(table, &widths, &header_layout, &header, Font::HelveticaBold);
            }
            self.draw_row(table, &widths, &layout, row, Font::Helvetica);
        }
    }

    fn draw_row(
        &mut self,
        table: &Table,
        widths: &[f32],
        (height, lines): &RowLayout,
        cells: &[Cell],
        font: Font,
    ) {
        let top = self.y;
        let size = table.font_size;
        let mut x = self.left();
        for (i, column) in table.columns.iter().enumerate() {
            let width = widths[i];
            let fill = cells.get(i).and_then(|c| c.fill);
            let style = RectStyle {
                fill,
                stroke: table.border.map(|color| (color, 0.5)),
            };
            let page = self.page();
            page.rect(x, top, width, *height, style);
            let anchor = match column.align {
                Align::Left => x + table.padding,
                Align::Center => x + width / 2.0,
                Align::Right => x + width - table.padding,
            };
            for (n, line) in lines[i].iter().enumerate() {
                let baseline =
                    top + table.padding + n as f32 * size * LINE_SPACING + baseline_offset(size);
                page.text_aligned(anchor, baseline, size, font, line, column.align);
            }
            x += width;
        }
        self.y = top + height;
    }
}

/// Line height as a multiple of the font size.
const LINE_SPACING: f32 = 1.2;

/// From the top of a line box to its baseline: Helvetica's ascender (718)
/// plus half the leading left after ascender and descender (925 in all).
fn baseline_offset(size: f32) -> f32 {
    size * ((LINE_SPACING - 0.925) / 2.0 + 0.718)
}

/// One column of a [`Table`].
#[derive(Clone, Debug, PartialEq)]
pub struct Column {
    pub header: String,
    /// Width in points; all columns shrink together when they do not fit.
    pub width: f32,
    pub align: Align,
}

impl Column {
    /// A left-aligned column.
    pub fn new(header: &str, width: f32) -> Self {
        Self {
            header: header.to_owned(),
            width,
            align: Align::Left,
        }
    }

    /// The same column, right-aligned (for amounts and counts).
    pub fn right(mut self) -> Self {
        self.align = Align::Right;
        self
    }

    pub fn aligned(mut self, align: Align) -> Self {
        self.align = align;
        self
    }
}

/// A table cell: its text (wrapped to the column) and an optional fill.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Cell {
    pub text: String,
    pub fill: Option<Rgb>,
}

impl Cell {
    pub fn new(text: &str) -> Self {
        Self {
            text: text.to_owned(),
            fill: None,
        }
    }

    /// The same cell on a coloured background (e.g. overdue in red).
    pub fn fill(mut self, color: Rgb) -> Self {
        self.fill = Some(color);
        self
    }
}

impl From<&str> for Cell {
    fn from(text: &str) -> Self {
        Cell::new(text)
    }
}

impl From<String> for Cell {
    fn from(text: String) -> Self {
        Cell { text, fill: None }
    }
}

/// Rows of cells under a header, drawn by [`Flow::table`].
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    columns: Vec<Column>,
    rows: Vec<Vec<Cell>>,
    pub font_size: f32,
    /// Space between a cell's border and its text.
    pub padding: f32,
    pub header_fill: Option<Rgb>,
    /// Cell outlines; `None` draws none.
    pub border: Option<Rgb>,
}

/// A row's height and each cell's wrapped lines.
type RowLayout = (f32, Vec<Vec<String>>);

impl Table {
    /// 9 pt text, light gray header, thin gray borders.
    pub fn new(columns: Vec<Column>) -> Self {
        Self {
            columns,
            rows: Vec::new(),
            font_size: 9.0,
            padding: 3.0,
            header_fill: Some(Rgb::LIGHT_GRAY),
            border: Some(Rgb::GRAY),
        }
    }

    /// Appends a row. Missing cells are empty; cells beyond the last
    /// column are dropped.
    pub fn push_row<C: Into<Cell>>(&mut self, cells: impl IntoIterator<Item = C>) {
        let mut row: Vec<Cell> = cells
            .into_iter()
            .take(self.columns.len())
            .map(Into::into)
            .collect();
        row.resize(self.columns.len(), Cell::default());
        self.rows.push(row);
    }

    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    pub fn rows(&self) -> &[Vec<Cell>] {
        &self.rows
    }

    fn fitted_widths(&self, available: f32) -> Vec<f32> {
        let total: f32 = self.columns.iter().map(|c| c.width.max(0.0)).sum();
        let scale = if total > available && total > 0.0 {
            available / total
        } else {
            1.0
        };
        self.columns
            .iter()
            .map(|c| c.width.max(0.0) * scale)
            .collect()
    }

    fn layout_row(&self, cells: &[Cell], widths: &[f32], font: Font) -> RowLayout {
        let size = self.font_size;
        let lines: Vec<Vec<String>> = widths
            .iter()
            .enumerate()
            .map(|(i, width)| {
                let text = cells.get(i).map_or("", |c| c.text.as_str());
                wrap(font, size, text, (width - 2.0 * self.padding).max(1.0))
            })
            .collect();
        let count = lines.iter().map(Vec::len).max().unwrap_or(1).max(1);
        let height = 2.0 * self.padding + count as f32 * size * LINE_SPACING;
        (height, lines)
    }
}

/// A line written on every page once the document is complete, such as
/// "Página {page} de {pages}".
#[derive(Clone, Debug, PartialEq)]
pub struct Footer {
    /// `{page}` becomes the page number (from 1), `{pages}` the count.
    pub pattern: String,
    pub font: Font,
    pub size: f32,
    pub align: Align,
    /// Distance from the page edge for left and right alignment.
    pub margin_x: f32,
    /// Baseline distance from the bottom edge.
    pub baseline_from_bottom: f32,
    pub color: Rgb,
}

impl Footer {
    /// Centred 8 pt gray text, 28 pt above the bottom edge.
    pub fn new(pattern: &str) -> Self {
        Self {
            pattern: pattern.to_owned(),
            font: Font::Helvetica,
            size: 8.0,
            align: Align::Center,
            margin_x: 40.0,
            baseline_from_bottom: 28.0,
            color: Rgb::new(90, 90, 90),
        }
    }

    /// The text for one page.
    pub fn text(&self, page: usize, pages: usize) -> String {
        self.pattern
            .replace("{page}", &page.to_string())
            .replace("{pages}", &pages.to_string())
    }
}

impl Document {
    /// Writes `footer` on every page; call it once all pages exist.
    pub fn number_pages(&mut self, footer: &Footer) {
        let pages = self.page_count();
        for (i, page) in self.pages_mut().iter_mut().enumerate() {
            let text = footer.text(i + 1, pages);
            let anchor = match footer.align {
                Align::Left => footer.margin_x,
                Align::Center => page.width() / 2.0,
                Align::Right => page.width() - footer.margin_x,
            };
            let baseline = page.height() - footer.baseline_from_bottom;
            page.set_text_color(footer.color);
            page.text_aligned(
                anchor,
                baseline,
                footer.size,
                footer.font,
                &text,
                footer.align,
            );
            page.set_text_color(Rgb::BLACK);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(rows: usize) -> Table {
        let mut t = Table::new(vec![
            Column::new("Equipo", 200.0),
            Column::new("Días", 60.0).right(),
        ]);
        for i in 0..rows {
            t.push_row([format!("Fila {i:03}"), i.to_string()]);
        }
        t
    }

    #[test]
    fn a_long_table_breaks_pages_and_repeats_the_header() {
        let mut doc = Document::new();
        let mut flow = Flow::new(&mut doc, PageSize::A4, Margins::default());
        flow.table(&table(120));
        assert!(doc.page_count() >= 3, "{} pages", doc.page_count());
        for page in doc.pages() {
            let ops = String::from_utf8_lossy(page.content()).into_owned();
            assert_eq!(ops.matches("(Equipo) Tj").count(), 1);
        }
    }

    #[test]
    fn rows_stay_above_the_bottom_margin() {
        let mut doc = Document::new();
        let margins = Margins::default();
        let mut flow = Flow::new(&mut doc, PageSize::A4, margins);
        for _ in 0..200 {
            flow.paragraph("Una línea", Font::Helvetica, 10.0);
            assert!(flow.y() <= PageSize::A4.height - margins.bottom + 1e-3);
        }
    }

    #[test]
    fn wide_columns_shrink_to_the_page() {
        let t = Table::new(vec![Column::new("a", 600.0), Column::new("b", 400.0)]);
        let widths = t.fitted_widths(500.0);
        assert!((widths[0] - 300.0).abs() < 1e-3 && (widths[1] - 200.0).abs() < 1e-3);
    }

    #[test]
    fn short_rows_are_padded_and_long_rows_cut() {
        let mut t = table(0);
        t.push_row(["solo"]);
        t.push_row(["a", "b", "c"]);
        assert_eq!(t.rows()[0].len(), 2);
        assert_eq!(t.rows()[1].len(), 2);
    }

    #[test]
    fn footer_pattern_is_filled_in() {
        assert_eq!(
            Footer::new("Página {page} de {pages}").text(2, 3),
            "Página 2 de 3"
        );
    }
}
