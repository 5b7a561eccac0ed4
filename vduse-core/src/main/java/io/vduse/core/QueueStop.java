package io.vduse.core;

/** Why a queue stopped serving. */
public enum QueueStop {
    /** The driver reset the device (status 0). */
    RESET,
    /** The driver disabled the queue ({@code VDUSE_SET_VQ_READY} with ready 0). */
    DISABLED,
    /** The kernel suspended the device ({@code VDUSE_SUSPEND}). */
    SUSPENDED,
    /** The ring or the device broke (a bad ring, a refused interrupt, an error of the handler). */
    BROKEN,
    /** This process stopped serving the device ({@link VduseDevice#close()}, {@link VduseDevice#detach()}). */
    CLOSED,
    /** The queue's address space changed ({@code VDUSE_SET_VQ_GROUP_ASID}); it starts again over the new one. */
    ADDRESS_SPACE_CHANGED,
    /**
     * The memory behind the queue's address space was swapped (the device's own memory became the
     * bounce buffer); it starts again at once over the new memory.
     */
    MEMORY_CHANGED
}
