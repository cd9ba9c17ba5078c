//! LR range-test analysis (filled in below).
