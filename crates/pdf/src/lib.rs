//! Server-side PDF documents, QR and Code 128 barcodes for Faena's reports, registers
//! and machine labels.
//!
//! Documents use the standard Type1 fonts Helvetica and Helvetica-Bold with
//! WinAnsiEncoding, so Spanish text (á é í ó ú ñ ü ¿ ¡ ° º) needs no font
//! files; characters outside WinAnsi are drawn as `?`. Nothing here reads
//! the clock, the network or the file system: the same input gives the
//! same bytes. Coordinates are points from the top-left corner of the page,
//! `y` downwards, with text placed by its baseline (see [`page`]).
//!
//! This crate must not know about Faena's domain, HTTP or storage: callers
//! pass every visible text and decide what to do with the bytes.

pub mod code128;
pub mod document;
pub mod encoding;
pub mod font;
pub mod image;
pub mod labels;
pub mod layout;
pub mod page;
pub mod qr;

pub use code128::Code128;
pub use document::Document;
pub use font::{Font, text_width, wrap};
pub use image::{ColorSpace, Image};
pub use labels::{Label, LabelSheet};
pub use layout::{Cell, Column, Flow, Footer, Margins, Table};
pub use page::{Align, ImageId, Page, PageSize, RectStyle, Rgb, mm};
pub use qr::QrMatrix;

/// What can go wrong building a document.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The text does not fit in a QR code (or cannot be encoded).
    #[error("QR code: {0}")]
    Qr(String),
    /// Image bytes could not be decoded, or a PNG could not be encoded.
    #[error("image: {0}")]
    Image(#[from] ::image::ImageError),
    /// Raw pixels do not match the stated size.
    #[error("invalid image: {0}")]
    InvalidImage(String),
    /// The text cannot be drawn as a barcode (empty, or outside Code
    /// 128's printable ASCII).
    #[error("barcode: {0}")]
    Barcode(String),
    #[error("labels: {0}")]
    Label(String),
}
