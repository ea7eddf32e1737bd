use faena_pdf::{ColorSpace, Document, Image, PageSize};

use crate::tools::{PdfFile, run};

fn png(width: u32, height: u32, rgb: bool) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    let img = if rgb {
        image::DynamicImage::ImageRgb8(image::RgbImage::from_fn(width, height, |x, y| {
            image::Rgb([(x * 255 / width) as u8, (y * 255 / height) as u8, 128])
        }))
    } else {
        image::DynamicImage::ImageLuma8(image::GrayImage::from_fn(width, height, |x, _| {
            image::Luma([(x * 255 / width) as u8])
        }))
    };
    img.write_to(&mut out, image::ImageFormat::Png)
        .expect("encode png");
    out.into_inner()
}

#[test]
fn embedded_png_images_are_listed_with_their_size() {
    let mut doc = Document::new();
    let logo = Image::decode(&png(120, 40, true)).expect("decode");
    assert_eq!(logo.color_space(), ColorSpace::Rgb);
    let logo = doc.add_image(logo);
    let scan = doc.add_image(Image::decode(&png(64, 32, false)).expect("decode"));
    let page = doc.add_page(PageSize::A4);
    page.image(logo, 40.0, 40.0, 180.0, 60.0);
    page.image(scan, 40.0, 120.0, 128.0, 64.0);
    // The same image on a second page is stored once.
    doc.add_page(PageSize::A4)
        .image(logo, 40.0, 40.0, 90.0, 30.0);
    let file = PdfFile::new(&doc);

    assert_eq!(file.info_field(&[], "Pages"), "2");
    let list = run("pdfimages", &["-list", file.path.to_str().expect("path")]);
    let rows: Vec<Vec<&str>> = list
        .lines()
        .skip(2)
        .map(|l| l.split_whitespace().collect())
        .collect();
    // page num type width height color comp bpc enc …
    let summary: Vec<(&str, &str, &str, &str, &str)> = rows
        .iter()
        .map(|r| (r[0], r[3], r[4], r[5], r[8]))
        .collect();
    assert_eq!(
        summary,
        [
            ("1", "120", "40", "rgb", "image"),
            ("1", "64", "32", "gray", "image"),
            ("2", "120", "40", "rgb", "image"),
        ],
        "{list}"
    );
    // Both pages point at one object.
    assert_eq!(rows[0][10], rows[2][10], "{list}");
}

#[test]
fn drawn_image_shows_its_pixels() {
    // A solid red image rendered by poppler comes out red where placed.
    let red = Image::from_pixels(4, 4, ColorSpace::Rgb, [200, 0, 0].repeat(16)).expect("pixels");
    let mut doc = Document::new();
    let id = doc.add_image(red);
    doc.add_page(PageSize::new(72.0, 72.0))
        .image(id, 18.0, 18.0, 36.0, 36.0);
    let file = PdfFile::new(&doc);
    let rendered = image::open(&file.render(72)[0]).expect("png").to_rgb8();
    assert_eq!(rendered.get_pixel(36, 36).0, [200, 0, 0]);
    assert_eq!(rendered.get_pixel(5, 5).0, [255, 255, 255]);
}
