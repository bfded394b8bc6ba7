/** Who signed a request, once the signature checked out. */
export type Principal =
  | {
      readonly kind: 'user';
      readonly userName: string;
      readonly arn: string;
      readonly accessKeyId: string;
    }
  | {
      readonly kind: 'role';
      readonly roleName: string;
      readonly arn: string;
      readonly userId: string;
      readonly accessKeyId: string;
    };

/** Temporary credentials of an assumed role, as a Lambda execution role has. */
export interface RoleCredentials {
  readonly roleName: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken: string;
  readonly arn: string;
  readonly userId: string;
}
