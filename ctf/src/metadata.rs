//! TSDL metadata generation.
