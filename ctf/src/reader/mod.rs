//! placeholder: written by the reader work
