//! Moodle-agnostic XML by byte spans: a scanner that reports where each element starts, ends and holds its
//! content, a decoder that reads that content as Moodle's parser does (CDATA, references, comments, CRLF), and a
//! splicer that applies edits to the original bytes (into a new buffer, or over the original's own).
//!
//! XML is never re-serialised. Callers find spans with [`walk`], compute [`Edit`]s and [`splice`] them into the
//! original document, so every byte outside an edit is kept exactly (quoting, indentation, empty-element form).

mod bounded;
mod decode;
mod in_place;
mod scan;
mod splice;

pub use bounded::{Bounded, TooLong};

pub use decode::{int, reference, text, text_cow, unescape};
pub use in_place::{
    FillPieces, Piece, Streamed, splice_owned, splice_pieces_owned, splice_pieces_streamed,
};
pub use scan::{Closed, Open, Visit, XmlError, attr, attr_of, walk, walk_quick_xml};
pub use splice::{Edit, EditError, Fill, line_span, splice, splice_filled};

/// Moodle's literal for SQL NULL inside an element (`backup_xml_transformer::process()`).
pub const NULL: &str = "$@NULL@$";
