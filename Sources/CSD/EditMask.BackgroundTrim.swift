extension EditMask {
    /// Where `EditMask.shaped` clears the cells whose source looks like the background rather than
    /// the edited region (`EditMask.trimmedByAppearance`).
    public enum BackgroundTrim: Sendable {
        /// Before the feathering, so the mask still fades out over `feather` cells past what is
        /// kept: for edits that run at full size (panoramas), where a cleared cell beside a kept
        /// one is a hard edit edge.
        case beforeFeathering
        /// After the feathering, so no faded rim reaches past what is kept: for edits made at a
        /// working size whose difference is carried to full size along the image's edges (images
        /// and videos), where the rim painted a glow of the new colour onto the ground.
        case afterFeathering
    }
}
