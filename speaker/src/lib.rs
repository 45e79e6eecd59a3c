//! The FerroLB speaker: decides what each node announces and announces it, over
//! BGP or, in Layer-2 mode, over ARP/NDP.
