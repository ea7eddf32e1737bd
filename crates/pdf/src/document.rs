//! The document: its pages, images and metadata, and the writing of the
//! file (objects, Flate streams, cross-reference table, trailer).
//!
//! Owns the PDF file structure. It must not decide where anything goes on
//! a page: pages and layout do. The output depends only on what callers
//! put in, never on the clock, so the same input gives the same bytes.

use std::io::{self, Write};

use chrono::{DateTime, Offset, TimeZone};
use miniz_oxide::deflate::compress_to_vec_zlib;

use crate::encoding::write_text_string;
use crate::font::Font;
use crate::image::Image;
use crate::page::{ImageId, Page, PageSize, num};

const PRODUCER: &str = "faena-pdf";
const FLATE_LEVEL: u8 = 6;

/// A PDF document under construction.
#[derive(Clone, Debug, Default)]
pub struct Document {
    title: Option<String>,
    author: Option<String>,
    creator: Option<String>,
    subject: Option<String>,
    created: Option<String>,
    pages: Vec<Page>,
    images: Vec<Image>,
}

impl Document {
    pub fn new() -> Self {
        Self::default()
    }

    /// The title viewers show in their window bar (`pdfinfo`'s Title).
    pub fn set_title(&mut self, title: &str) -> &mut Self {
        self.title = Some(title.to_owned());
        self
    }

    pub fn set_author(&mut self, author: &str) -> &mut Self {
        self.author = Some(author.to_owned());
        self
    }

    /// The application that made the content, e.g. "Faena".
    pub fn set_creator(&mut self, creator: &str) -> &mut Self {
        self.creator = Some(creator.to_owned());
        self
    }

    pub fn set_subject(&mut self, subject: &str) -> &mut Self {
        self.subject = Some(subject.to_owned());
        self
    }

    /// The creation date, supplied by the caller so output is reproducible;
    /// without it the file has no date.
    pub fn set_creation_date<Tz: TimeZone>(&mut self, at: &DateTime<Tz>) -> &mut Self {
        let offset_minutes = at.offset().fix().local_minus_utc() / 60;
        let zone = if offset_minutes == 0 {
            "Z".to_owned()
        } else {
            let sign = if offset_minutes < 0 { '-' } else { '+' };
            let abs = offset_minutes.abs();
            format!("{sign}{:02}'{:02}'", abs / 60, abs % 60)
        };
        self.created = Some(format!(
            "D:{}{zone}",
            at.naive_local().format("%Y%m%d%H%M%S")
        ));
        self
    }

    /// Appends a page and returns it for drawing.
    pub fn add_page(&mut self, size: PageSize) -> &mut Page {
        self.pages.push(Page::new(size));
        let last = self.pages.len() - 1;
        &mut self.pages[last]
    }

    pub fn pages(&self) -> &[Page] {
        &self.pages
    }

    pub fn page_mut(&mut self, index: usize) -> Option<&mut Page> {
        self.pages.get_mut(index)
    }

    pub(crate) fn pages_mut(&mut self) -> &mut [Page] {
        &mut self.pages
    }

    pub fn page_count(&self) -> usize {
        self.pages.len()
    }

    /// Stores an image once; every page that draws the returned id shares
    /// the same XObject in the file.
    pub fn add_image(&mut self, image: Image) -> ImageId {
        self.images.push(image);
        ImageId(self.images.len() - 1)
    }

    /// The complete file. A document without pages gets one empty A4 page,
    /// since a PDF must have at least one.
    pub fn to_bytes(&self) -> Vec<u8> {
        let blank;
        let pages: &[Page] = if self.pages.is_empty() {
            blank = [Page::new(PageSize::A4)];
            &blank
        } else {
            &self.pages
        };
        let mut w = ObjectWriter::new();

        // Fixed numbers: 1 catalog, 2 page tree, 3-4 fonts, 5 info; then
        // images; then each page followed by its content stream.
        const CATALOG: usize = 1;
        const PAGES: usize = 2;
        const INFO: usize = 5;
        let first_image = 6;
        let first_page = first_image + self.images.len();
        let page_ids: Vec<usize> = (0..pages.len()).map(|i| first_page + 2 * i).collect();

        w.object(
            CATALOG,
            format!("<< /Type /Catalog /Pages {PAGES} 0 R >>").as_bytes(),
        );
        let kids: Vec<String> = page_ids.iter().map(|id| format!("{id} 0 R")).collect();
        w.object(
            PAGES,
            format!(
                "<< /Type /Pages /Kids [{}] /Count {} >>",
                kids.join(" "),
                pages.len()
            )
            .as_bytes(),
        );
        for (id, font) in [(3, Font::Helvetica), (4, Font::HelveticaBold)] {
            w.object(
                id,
                format!(
                    "<< /Type /Font /Subtype /Type1 /BaseFont /{} /Encoding /WinAnsiEncoding >>",
                    font.base_name()
                )
                .as_bytes(),
            );
        }
        w.object(INFO, &self.info_dictionary());

        for (i, image) in self.images.iter().enumerate() {
            let data = compress_to_vec_zlib(image.pixels(), FLATE_LEVEL);
            let dict = format!(
                "<< /Type /XObject /Subtype /Image /Width {} /Height {} /ColorSpace /{} \
                 /BitsPerComponent 8 /Filter /FlateDecode /Length {} >>",
                image.width(),
                image.height(),
                image.color_space().pdf_name(),
                data.len()
            );
            w.stream(first_image + i, &dict, &data);
        }

        for (page, &id) in pages.iter().zip(&page_ids) {
            let xobjects: String = page
                .image_indices()
                .iter()
                .filter(|&&index| index < self.images.len())
                .map(|index| format!("/Im{} {} 0 R ", index + 1, first_image + index))
                .collect();
            let size = page.size();
            w.object(
                id,
                format!(
                    "<< /Type /Page /Parent {PAGES} 0 R /MediaBox [0 0 {} {}] \
                     /Resources << /Font << /F1 3 0 R /F2 4 0 R >> /XObject << {xobjects}>> >> \
                     /Contents {} 0 R >>",
                    num(size.width),
                    num(size.height),
                    id + 1
                )
                .as_bytes(),
            );
            let data = compress_to_vec_zlib(page.content(), FLATE_LEVEL);
            let dict = format!("<< /Filter /FlateDecode /Length {} >>", data.len());
            w.stream(id + 1, &dict, &data);
        }

        w.finish(CATALOG, INFO)
    }

    /// Writes the file to `out`.
    pub fn write_to(&self, mut out: impl Write) -> io::Result<()> {
        out.write_all(&self.to_bytes())
    }

    fn info_dictionary(&self) -> Vec<u8> {
        let mut out = b"<< /Producer ".to_vec();
        write_text_string(&mut out, PRODUCER);
        for (key, value) in [
            ("Title", &self.title),
            ("Author", &self.author),
            ("Creator", &self.creator),
            ("Subject", &self.subject),
        ] {
            if let Some(value) = value {
                out.extend_from_slice(format!(" /{key} ").as_bytes());
                write_text_string(&mut out, value);
            }
        }
        if let Some(date) = &self.created {
            out.extend_from_slice(format!(" /CreationDate ({date})").as_bytes());
        }
        out.extend_from_slice(b" >>");
        out
    }
}

/// Appends numbered objects and remembers where each one starts, for the
/// cross-reference table.
struct ObjectWriter {
    out: Vec<u8>,
    offsets: Vec<(usize, usize)>,
}

impl ObjectWriter {
    fn new() -> Self {
        // The binary comment tells transfer tools the file is not text.
        let mut out = b"%PDF-1.7\n%".to_vec();
        out.extend_from_slice(&[0xE2, 0xE3, 0xCF, 0xD3, b'\n']);
        Self {
            out,
            offsets: Vec::new(),
        }
    }

    fn object(&mut self, id: usize, body: &[u8]) {
        self.offsets.push((id, self.out.len()));
        self.out
            .extend_from_slice(format!("{id} 0 obj\n").as_bytes());
        self.out.extend_from_slice(body);
        self.out.extend_from_slice(b"\nendobj\n");
    }

    fn stream(&mut self, id: usize, dict: &str, data: &[u8]) {
        self.offsets.push((id, self.out.len()));
        self.out
            .extend_from_slice(format!("{id} 0 obj\n{dict}\nstream\n").as_bytes());
        self.out.extend_from_slice(data);
        self.out.extend_from_slice(b"\nendstream\nendobj\n");
    }

    fn finish(mut self, root: usize, info: usize) -> Vec<u8> {
        self.offsets.sort_unstable();
        let size = self.offsets.last().map_or(0, |&(id, _)| id) + 1;
        let xref_at = self.out.len();
        let mut table = format!("xref\n0 {size}\n0000000000 65535 f \n");
        let mut next = self.offsets.iter().peekable();
        for id in 1..size {
            match next.peek() {
                Some(&&(found, offset)) if found == id => {
                    table.push_str(&format!("{offset:010} 00000 n \n"));
                    next.next();
                }
                // Every number is written today; a gap stays a free entry.
                _ => table.push_str("0000000000 65535 f \n"),
            }
        }
        let id = file_id(&self.out);
        table.push_str(&format!(
            "trailer\n<< /Size {size} /Root {root} 0 R /Info {info} 0 R /ID [<{id}> <{id}>] >>\n\
             startxref\n{xref_at}\n%%EOF\n"
        ));
        self.out.extend_from_slice(table.as_bytes());
        self.out
    }
}

/// A stable identifier derived from the content (two FNV-1a passes), so
/// identical documents get identical files.
fn file_id(bytes: &[u8]) -> String {
    let hash = |seed: u64| {
        bytes.iter().fold(seed, |h, &b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01B3)
        })
    };
    format!(
        "{:016X}{:016X}",
        hash(0xCBF2_9CE4_8422_2325),
        hash(0x6C62_272E_07BB_0142)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::FixedOffset;

    fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
        haystack.windows(needle.len()).position(|w| w == needle)
    }

    #[test]
    fn xref_offsets_point_at_their_objects() {
        let mut doc = Document::new();
        doc.set_title("Informe");
        doc.add_page(PageSize::A4)
            .text(50.0, 50.0, 12.0, Font::Helvetica, "Hola");
        doc.add_page(PageSize::A4_LANDSCAPE);
        let bytes = doc.to_bytes();

        let startxref = find(&bytes, b"startxref\n").expect("startxref");
        let tail = String::from_utf8_lossy(&bytes[startxref + 10..]).into_owned();
        let xref_at: usize = tail
            .lines()
            .next()
            .and_then(|l| l.parse().ok())
            .expect("offset");
        assert!(bytes[xref_at..].starts_with(b"xref\n"));

        let table = String::from_utf8_lossy(&bytes[xref_at..]).into_owned();
        let entries: Vec<&str> = table
            .lines()
            .skip(2)
            .take_while(|l| l.len() == 19)
            .collect();
        assert_eq!(entries.len(), 10, "{table}");
        for (id, entry) in entries.iter().enumerate().skip(1) {
            let offset: usize = entry[..10].parse().expect("digits");
            let header = format!("{id} 0 obj\n");
            assert!(
                bytes[offset..].starts_with(header.as_bytes()),
                "object {id} not at {offset}"
            );
        }
    }

    #[test]
    fn same_input_same_bytes() {
        let build = || {
            let mut doc = Document::new();
            doc.add_page(PageSize::A4)
                .text(10.0, 10.0, 9.0, Font::Helvetica, "x");
            doc.to_bytes()
        };
        assert_eq!(build(), build());
    }

    #[test]
    fn creation_date_keeps_the_callers_offset() {
        let santiago = FixedOffset::west_opt(3 * 3600).expect("offset");
        let at = santiago
            .with_ymd_and_hms(2026, 3, 4, 9, 30, 0)
            .single()
            .expect("date");
        let mut doc = Document::new();
        doc.set_creation_date(&at);
        let bytes = doc.to_bytes();
        assert!(find(&bytes, b"/CreationDate (D:20260304093000-03'00')").is_some());
    }

    #[test]
    fn empty_document_still_has_a_page() {
        let bytes = Document::new().to_bytes();
        assert!(find(&bytes, b"/Count 1").is_some());
    }
}
