import Foundation

extension TextToImageTraining {
    /// One step's random choices, from `RandomGenerator(seed: seed &+ step &* 0xD1B5_4A32_D192_ED03)`
    /// in this order: the images (`next() % count`, one per item), the flips (`uniform() < 0.5`),
    /// the dropped captions (`uniform() < dropout`), the timesteps (`next() % T`, T the schedule's
    /// training steps), then the noise [batch, 3, size, size] (`normal`). `Tools/train_prior.py
    /// --plan-seed` draws the same (its schedules have T = 1000).
    public struct Draws {
        public var indices: [Int], flips: [Bool], dropped: [Bool], timesteps: [Int]
        public var noise: Tensor

        public init(seed: UInt64, step: Int, batch: Int, images: Int, size: Int, captionDropout: Float, trainTimesteps: Int = 1000) {
            var rng = RandomGenerator(seed: seed &+ UInt64(step) &* 0xD1B5_4A32_D192_ED03)
            indices = (0..<batch).map { _ in Int(rng.next() % UInt64(images)) }
            flips = (0..<batch).map { _ in rng.uniform() < 0.5 }
            dropped = (0..<batch).map { _ in rng.uniform() < Double(captionDropout) }
            timesteps = (0..<batch).map { _ in Int(rng.next() % UInt64(trainTimesteps)) }
            noise = rng.normal([batch, 3, size, size])
        }
    }
}
