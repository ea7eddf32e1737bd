//! End-to-end checks of the files this crate writes, read back with the
//! tools people and print shops use: poppler's `pdftotext`, `pdfinfo`,
//! `pdfimages` and `pdftoppm`, and zbar's `zbarimg` for QR codes.
//! A missing tool fails the test with the package to install.

mod code128;
mod document;
mod images;
mod labels;
mod qr;
mod table;
mod tools;
