//! Data: IDX files (MNIST, Fashion-MNIST), where to find them, subsets, an embedded default and a
//! synthetic teacher-student task.

mod dataset;
mod idx;
mod locate;
mod teacher;

pub use dataset::Dataset;
pub use idx::{read_idx, IdxError};
pub use locate::{find_data_dir, load_split, DataSource, DATA_ENV};
pub use teacher::teacher_student;

/// The embedded Fashion-MNIST subset (see `embedded/README.md`): 2,000 train and 1,000 test images.
pub fn embedded_fashion_mnist() -> (Dataset, Dataset) {
    let load = |img: &[u8], lab: &[u8], name: &str| {
        Dataset::from_idx_bytes(img, lab, name)
            .expect("the embedded data set is valid (checked by tests)")
    };
    (
        load(
            include_bytes!("embedded/train-images-idx3-ubyte.gz"),
            include_bytes!("embedded/train-labels-idx1-ubyte.gz"),
            "fashion-mnist-subset/train",
        ),
        load(
            include_bytes!("embedded/t10k-images-idx3-ubyte.gz"),
            include_bytes!("embedded/t10k-labels-idx1-ubyte.gz"),
            "fashion-mnist-subset/test",
        ),
    )
}
