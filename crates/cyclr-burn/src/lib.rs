pub use cyclr;
