export const BINDING_TAG_KEY = 'iam-key-rotation:user';
